export { createKeys, QUEUES, type Keys, type QueueName } from './keys.ts';
export { TurnJobSchema, turnJob, type JobDefinition, type TurnJob } from './jobs.ts';
export { StoredInputSchema, StoredRequestSchema, type StoredRequest } from './record.ts';
