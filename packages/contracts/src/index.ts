export { createKeys, QUEUES, type KeyOptions, type Keys, type QueueName } from './keys.ts';
export {
  McpCredentialsSchema,
  McpJobResultSchema,
  McpJobSchema,
  TurnJobSchema,
  mcpJob,
  webhookJob,
  WebhookJobSchema,
  type WebhookJob,
  turnJob,
  type JobDefinition,
  type McpCredentials,
  type McpJob,
  type McpSecrets,
  type McpJobResult,
  type TurnJob,
} from './jobs.ts';
export { StoredInputSchema, StoredRequestSchema, type StoredRequest } from './record.ts';
export { ApprovalDecisionSchema, ParkedApprovalSchema, type ApprovalDecision, type ParkedApproval } from './approvals.ts';
