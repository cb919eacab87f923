import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * Connections by purpose. Commands from the API fail fast while Redis is away (so a request gets a
 * 503 instead of hanging); BullMQ needs `maxRetriesPerRequest: null` on its own connections; the
 * pub/sub subscriber is a connection of its own because a subscribed connection takes no commands.
 */
export type ConnectionPurpose = 'command' | 'queue' | 'subscriber';

/** What every store, queue and hub takes: one Redis, or a Redis Cluster (ioredis's `Cluster`). */
export type RedisClient = Redis | Cluster;

type HostPort = { host: string; port: number };

/**
 * Where Redis is: a URL, the seed nodes of a cluster (the others are discovered from them), or
 * Sentinels and the name of the master they watch (ioredis asks them for it, again after a failover).
 */
export type RedisTarget = { url: string } | { cluster: ReadonlyArray<HostPort> } | { sentinels: ReadonlyArray<HostPort>; name: string };

/** The target a loaded config names: the cluster or the Sentinels when configured, else `url`. */
export function redisTarget(config: { redisCluster: ReadonlyArray<HostPort> | null; redisSentinel?: { sentinels: ReadonlyArray<HostPort>; name: string } | null }, url: string | null): RedisTarget {
  if (config.redisCluster) return { cluster: config.redisCluster };
  if (config.redisSentinel) return { sentinels: config.redisSentinel.sentinels, name: config.redisSentinel.name };
  if (!url) throw new Error('no Redis URL and no cluster nodes');
  return { url };
}

export function isCluster(target: RedisTarget): target is { cluster: ReadonlyArray<{ host: string; port: number }> } {
  return 'cluster' in target;
}

// Back off up to 2 s between reconnects, forever: workers and readers recover by themselves.
const backoff = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

const BY_PURPOSE: Record<ConnectionPurpose, RedisOptions> = {
  command: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
  queue: { maxRetriesPerRequest: null },
  subscriber: { maxRetriesPerRequest: null },
};

export function connect(target: RedisTarget | string, purpose: ConnectionPurpose, extra: RedisOptions = {}): RedisClient {
  const where = typeof target === 'string' ? { url: target } : target;
  const options: RedisOptions = { connectionName: `spool-${purpose}`, retryStrategy: backoff, ...BY_PURPOSE[purpose], ...extra };
  if ('url' in where) return new Redis(where.url, options);
  if ('sentinels' in where) return new Redis({ ...options, sentinels: [...where.sentinels], name: where.name, sentinelRetryStrategy: backoff });
  const { enableOfflineQueue, ...nodeOptions } = options;
  const cluster: ClusterOptions = {
    // Per-node options; the cluster itself reconnects and follows failovers (MOVED, slot refresh).
    redisOptions: nodeOptions,
    clusterRetryStrategy: backoff,
    // A failover takes a replica's promotion (cluster-node-timeout plus an election): commands
    // wait through it instead of failing at the first CLUSTERDOWN or refused connection.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    // Sharded pub/sub (SSUBSCRIBE): one subscriber connection per master, each channel on the
    // shard of its hash tag, so a publish never crosses the cluster bus.
    shardedSubscribers: purpose === 'subscriber',
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
  };
  return new Cluster([...where.cluster], cluster);
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
