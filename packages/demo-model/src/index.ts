/** The built-in demo model: a scripted OpenAI-compatible server (see README, "The demo model"). */
export { startScriptedUpstream, type ScriptedUpstream, type ScriptedUpstreamOptions, type ChatRequestRecord, type ResponsesCallRecord } from './upstream.ts';
export { scriptedEncryptedContent } from './responses.ts';
export { planReply, contentText, wordChunks, exampleFromSchema, type ReplyPlan, type PlannedToolCall, type PlannedFailure, type PlannedUsage, type FinishReason } from './plan.ts';
