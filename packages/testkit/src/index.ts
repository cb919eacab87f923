export {
  provideRedis,
  spawnRedisServer,
  uniquePrefix,
  deleteByPrefix,
  dockerEngineAnswers,
  startRedisCluster,
  hasRedisClusterTools,
  type ClusterNode,
  type RedisClusterOptions,
  type SpawnedRedisCluster,
  type ProvidedRedis,
  type SpawnedRedis,
  type SpawnRedisOptions,
} from './redis.ts';
export {
  startScriptedUpstream,
  type ScriptedUpstream,
  type ScriptedUpstreamOptions,
  type ChatRequestRecord,
} from './upstream.ts';
export {
  planReply,
  contentText,
  wordChunks,
  exampleFromSchema,
  type ReplyPlan,
  type PlannedToolCall,
  type PlannedFailure,
  type PlannedUsage,
  type FinishReason,
} from './plan.ts';
