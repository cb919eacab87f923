import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedisClusterTools, startRedisSentinel, type SpawnedSentinelSetup } from '@spool/testkit';
import { startTestSpool, until, type TestSpool } from './support/spool.ts';

/**
 * Spool behind Redis Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME): it finds the master
 * through the Sentinel, and after the master crashes and the Sentinel promotes the replica, it
 * serves again from the new master without a restart.
 */
let setup: SpawnedSentinelSetup;
let spool: TestSpool;

beforeAll(async () => {
  setup = await startRedisSentinel();
  spool = await startTestSpool({ name: 'sentinel', redisTarget: { sentinels: setup.sentinels, name: setup.name } });
}, 60_000);
afterAll(async () => {
  await spool?.close().catch(() => undefined);
  await setup?.stop();
});

describe.skipIf(!hasRedisClusterTools())('Redis Sentinel', () => {
  it('follows the master the Sentinel names, across a failover', async () => {
    expect(spool.config.redisSentinel).toEqual({ sentinels: setup.sentinels, name: setup.name });
    const first = await spool.client.responses.create({ model: 'm', input: '!words 4' });
    expect(first.output_text.split(' ')).toHaveLength(4);

    const old = await setup.masterPort();
    setup.kill(old);
    await until(async () => (await setup.masterPort().catch(() => old)) !== old, 30_000, 200);
    const after = await until(() => spool.client.responses.create({ model: 'm', input: '!words 3' }).catch(() => null), 30_000, 250);
    expect(after.output_text.split(' ')).toHaveLength(3);
    expect((await spool.client.responses.retrieve(after.id)).status).toBe('completed');
  }, 90_000);
});
