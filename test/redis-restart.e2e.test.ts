import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnRedisServer } from '@spool/testkit';
import { startTestSpool, until, untilTerminal, type TestSpool } from './support/spool.ts';

/**
 * Redis restarted under load: the API answers 503 (OpenAI-shaped) and /readyz says so while it is
 * away, everything reconnects by itself, and no acknowledged response is lost. This test runs its
 * own redis-server with the append-only file on (the shared one keeps nothing on disk).
 */
let redis: Awaited<ReturnType<typeof spawnRedisServer>>;
let spool: TestSpool;

beforeAll(async () => {
  redis = await spawnRedisServer({ appendOnly: true });
  spool = await startTestSpool({ name: 'restart', redisUrl: redis.url });
});
afterAll(async () => {
  await spool?.close().catch(() => undefined);
  await redis?.stop();
});

describe('Redis restart', () => {
  it('answers 503 while Redis is away and finishes every acknowledged response after it returns', async () => {
    const client: OpenAI = spool.client;
    const acknowledged = await Promise.all(Array.from({ length: 10 }, () => client.responses.create({ model: 'm', input: '!delay 30\n!words 60', background: true })));
    await until(async () => (await client.responses.retrieve(acknowledged[0]!.id)).output.length > 0);

    redis.kill('SIGKILL');
    const ready = await fetch(`${spool.url}/readyz`);
    expect(ready.status).toBe(503);
    const refused = await fetch(`${spool.baseURL}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', input: 'x' }) });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { type: 'service_unavailable', code: 'service_unavailable' } });

    await new Promise((r) => setTimeout(r, 500));
    await redis.restart();
    await until(async () => (await fetch(`${spool.url}/readyz`)).ok, 20_000, 100);

    const finals = await Promise.all(acknowledged.map((c) => untilTerminal(client, c.id)));
    for (const r of finals) expect(['completed', 'failed']).toContain(r.status);
    console.info(`after the Redis restart: ${finals.filter((r) => r.status === 'completed').length} completed, ${finals.filter((r) => r.status === 'failed').length} failed of ${finals.length}`);
    // Most finish: the workers waited for Redis instead of failing.
    expect(finals.filter((r) => r.status === 'completed').length).toBeGreaterThan(0);
    const after = await client.responses.create({ model: 'm', input: '!say back' });
    expect(after.output_text).toBe('back');
  }, 90_000);
});
