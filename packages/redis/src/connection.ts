import { Redis, type RedisOptions } from 'ioredis';

/**
 * Connections by purpose. Commands from the API fail fast while Redis is away (so a request gets a
 * 503 instead of hanging); BullMQ needs `maxRetriesPerRequest: null` on its own connections; the
 * pub/sub subscriber is a connection of its own because a subscribed connection takes no commands.
 */
export type ConnectionPurpose = 'command' | 'queue' | 'subscriber';

export function connect(url: string, purpose: ConnectionPurpose, extra: RedisOptions = {}): Redis {
  const base: RedisOptions = {
    connectionName: `spool-${purpose}`,
    // Back off up to 2 s between reconnects, forever: workers and readers recover by themselves.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
  const byPurpose: Record<ConnectionPurpose, RedisOptions> = {
    command: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
    queue: { maxRetriesPerRequest: null },
    subscriber: { maxRetriesPerRequest: null },
  };
  return new Redis(url, { ...base, ...byPurpose[purpose], ...extra });
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: Redis, timeoutMs = 5000): Promise<void> {
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
