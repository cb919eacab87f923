export {
  ConfigError,
  EnvSchema,
  FileSchema,
  LimitsSchema,
  McpServerConfigSchema,
  ROLES,
  loadConfig,
  matchesModel,
  retentionSeconds,
  routeFor,
  upstreamModelFor,
  type Config,
  type McpServerConfig,
  type Role,
  type UpstreamRoute,
  KeyLimitsSchema,
  NamedKeySchema,
  type ApiKeyEntry,
  type KeyLimits,
} from './config.ts';
export { globMatch, substituteCaptures } from './glob.ts';
export { createLogger, REDACT_PATHS, type Logger } from './logger.ts';
export {
  RedisServerProcess,
  RedisUnavailableError,
  freePort,
  hasRedisServerBinary,
  howToGetRedis,
  pingRedis,
  resolveRedis,
  spawnRedis,
  waitForPing,
  type ResolvedRedis,
  type SpawnedRedis,
} from './local-redis.ts';
export { Shutdown } from './shutdown.ts';
export { SecretBox } from './secrets.ts';
export { QuietTimers, type QuietHandle } from './quiet-timers.ts';
export { InvalidCompactionError, openCompaction, sealCompaction } from './compaction.ts';
export { createMetrics, modelLabel, type Metrics } from './metrics.ts';
export { tracer, injectTrace, extractTrace, GEN_AI, type TraceCarrier } from './tracing.ts';
