import { Redis } from 'ioredis';
import { createKeys, type Keys } from '@spool/contracts';
import { deleteByPrefix, uniquePrefix } from '@spool/testkit';
import { LiveHub } from '../src/live.ts';
import { ResponseStore } from '../src/store.ts';

/**
 * What this package's integration suites share: the test Redis (SPOOL_TEST_REDIS_URL, set by the
 * vitest global setup), a key prefix of their own, a store and a live hub on it. Call `close` in
 * afterAll: it disconnects and deletes everything under the prefix.
 */
export function redisTestContext(name: string, subscriberName?: string) {
  const url = process.env.SPOOL_TEST_REDIS_URL as string;
  const prefix = `${uniquePrefix(name)}:`;
  const redis = new Redis(url);
  const subscriber = new Redis(url, subscriberName ? { connectionName: subscriberName } : {});
  const keys: Keys = createKeys(prefix);
  return {
    url,
    prefix,
    redis,
    subscriber,
    keys,
    store: new ResponseStore(redis, keys),
    hub: new LiveHub(subscriber),
    close: async () => {
      redis.disconnect();
      subscriber.disconnect();
      await deleteByPrefix(url, prefix);
    },
  };
}
