export { createKeys, QUEUES, type KeyLimitKeys, type KeyOptions, type Keys, type QueueName } from './keys.ts';
export {
  McpCredentialsSchema,
  McpJobResultSchema,
  McpJobSchema,
  TurnJobSchema,
  mcpJob,
  webhookJob,
  WEBHOOK_BACKOFF_JITTER,
  WORKER_OPTIONS,
  WebhookJobSchema,
  type WebhookJob,
  turnJob,
  type JobDefinition,
  type McpCredentials,
  type McpJob,
  type McpSecrets,
  type McpJobResult,
  type TurnJob,
  McpTaskHandleSchema,
  type McpTaskHandle,
} from './jobs.ts';
export { StoredInputSchema, StoredRequestSchema, UpstreamFailureSchema, type SealedResponse, type StoredRequest, type UpstreamFailure } from './record.ts';
export { ApprovalDecisionSchema, ParkedApprovalSchema, type ApprovalDecision, type ParkedApproval } from './approvals.ts';
export { approvalRequired, checkCall, factsOf, matchesFilter, toolAllowed, whyNotAllowed, type CallVerdict, type RequestToolPolicy, type ServerToolPolicy, type ToolFacts } from './mcp-policy.ts';
export { isApprovalRequestIdShape, mintApprovalRequestId, verifyApprovalRequestId, type ApprovalBinding, type ApprovalFlags, type ApprovalIdCheck, type MacFn } from './approval-ids.ts';
export { isElicitationIdShape, mintElicitationId, verifyElicitationId, type ElicitationBinding } from './elicitation-ids.ts';
export {
  ElicitationAnswerSchema,
  ElicitationNoticeSchema,
  ElicitationResumeSchema,
  ElicitationValueSchema,
  HeldCallStepSchema,
  type HeldCallStep,
  ParkedElicitationSchema,
  type ElicitationAnswer,
  type ElicitationNotice,
  type ElicitationResume,
  type ParkedElicitation,
} from './elicitations.ts';
