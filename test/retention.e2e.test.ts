import type { RedisClient } from '@spool/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysUnder, startTestSpool, until, type TestSpool } from './support/spool.ts';

/** Records, event logs and parked approvals expire: nothing grows without bound. */
let spool: TestSpool;
let redis: RedisClient;

beforeAll(async () => {
  spool = await startTestSpool({ name: 'retention', file: { limits: { retention_seconds: 2, ephemeral_retention_seconds: 10 } } });
  redis = spool.connectRedis();
});
afterAll(async () => {
  redis?.disconnect();
  await spool?.close();
});

describe('retention', () => {
  it('gives every key of a response a TTL and lets them expire after the retention', async () => {
    const r = await spool.client.responses.create({ model: 'm', input: '!words 5', background: true });
    await until(async () => (await spool.client.responses.retrieve(r.id)).status === 'completed');
    const keys = (await keysUnder(redis, spool.prefix)).filter((k) => k.startsWith(`${spool.prefix}resp:{${r.id}}`));
    expect(keys.sort()).toEqual([`${spool.prefix}resp:{${r.id}}`, `${spool.prefix}resp:{${r.id}}:events`]);
    for (const k of keys) {
      const ttl = await redis.ttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2);
    }
    await until(async () => (await Promise.all(keys.map((k) => redis.exists(k)))).every((n) => n === 0), 5000, 100);
    await expect(spool.client.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
  });
});
