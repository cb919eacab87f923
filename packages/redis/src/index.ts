export { connect, isCluster, redisTarget, waitReady, type ConnectionPurpose, type RedisClient, type RedisTarget } from './connection.ts';
export {
  APPEND_GONE,
  APPEND_SEALED,
  DEFAULT_MAX_PUBLISH_BYTES,
  ResponseStore,
  defineScripts,
  snapshotEvent,
  splitEvent,
  type AppendOptions,
  type CreateRecord,
  type LogEntry,
  type ResponseRecord,
  type SplitEvent,
} from './store.ts';
export { LiveHub, type LiveHandler, type LiveMessage, type LiveSubscription } from './live.ts';
export { followEvents, responseJsonOf, waitForTerminal, type FinalState, type FollowOptions, type FollowOutcome } from './follow.ts';
export { ResponseClosedError, ResponseWriter, type WriterOptions } from './writer.ts';
export { ChainError, loadChain } from './chain.ts';
export { CLOSED_POLL_MS, asCancelled, cancelResponse, replayEvents, watchClosed, type CancelOutcome } from './cancel.ts';
export { ApprovalStore, type ClaimResult, type UseResult } from './approvals.ts';
export { ElicitationStore, type ElicitationClaim, type ResumedBy } from './elicitations.ts';
export { InflightIndex } from './inflight.ts';
export { ToolListCache, type ToolListSource } from './tool-lists.ts';
export { checkEvictionPolicy, type EvictionCheck } from './policy.ts';
export { ConversationStore, type ConversationMeta, type ItemPage, type LockResult, type StoredItem } from './conversations.ts';
export { KeyLimiter, utcDay, type KeyLimitValues, type LimitCheck, type LimitReason, type SettledUsage } from './limits.ts';
export { OpsIndex } from './ops-index.ts';
export { isRedisFailure, redisOutage, type RedisOutage } from './outage.ts';
