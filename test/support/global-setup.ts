import { provideRedis } from '@spool/testkit';

/**
 * Resolves one Redis for the whole run (REDIS_URL, else testcontainers when a Docker engine
 * answers, else a spawned redis-server) and hands its URL to every test file through the
 * environment. Each test file then works under its own key prefix.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const redis = await provideRedis();
  process.env.SPOOL_TEST_REDIS_URL = redis.url;
  return async () => {
    await redis.stop();
  };
}
