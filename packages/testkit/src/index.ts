export {
  provideRedis,
  spawnRedisServer,
  uniquePrefix,
  deleteByPrefix,
  dockerEngineAnswers,
  startRedisCluster,
  startRedisSentinel,
  type SpawnedSentinelSetup,
  hasRedisClusterTools,
  type ClusterNode,
  type RedisClusterOptions,
  type SpawnedRedisCluster,
  type ProvidedRedis,
  type SpawnedRedis,
  type SpawnRedisOptions,
} from './redis.ts';
// The scripted upstream is the demo model that `npm start` serves; it lives in its own package
// so production code does not import the test kit. Tests keep importing it from here.
export * from '@spool/demo-model';
// Real MCP servers for tests (the SDK's, server-everything, a recording proxy), all on 127.0.0.1.
export * from './mcp-servers/index.ts';
export { startRecordingProxy, type RecordingProxy } from './mcp-servers/recording-proxy.ts';
