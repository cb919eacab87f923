export { startLlmWorker, Upstreams, type LlmWorkerDeps } from './worker.ts';
export { completeChat, streamChat } from './upstream.ts';
export { runTurn, upstreamFailure, type TurnDeps, type TurnOutcome } from './turn/run.ts';
export { toChatMessages } from './turn/messages.ts';
export { TurnTranslator } from './turn/translate.ts';
export { buildChatParams } from './turn/params.ts';
export { mcpFunctionName } from './turn/tool-names.ts';
