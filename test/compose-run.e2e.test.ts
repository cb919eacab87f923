import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@spool/runtime';
import { startSpool, withDemoModel, type RunningSpool } from '@spool/spool';
import { uniquePrefix } from '@spool/testkit';
import { composeEnvironments } from './support/compose.ts';
import { deleteTestData, redisEnv, testRedisTarget } from './support/spool.ts';

/**
 * docker-compose.yml with nothing set, run as its containers would run it (their environment
 * through loadConfig, each service a Spool of its own) with only Redis and the port swapped for
 * the test's: two api replicas and an llm worker, apart, serve the demo model, and the api
 * listening on 0.0.0.0 needs the key it generated (printed once, by the replica that made it).
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = `${uniquePrefix('compose')}:`;
const running: Array<{ close: () => Promise<void> }> = [];
afterAll(async () => {
  for (const r of running.reverse()) await r.close();
  await deleteTestData(testRedisTarget(), prefix);
});

async function service(env: Record<string, string>): Promise<RunningSpool> {
  const config = loadConfig({ ...env, ...redisEnv(), SPOOL_PREFIX: prefix, PORT: '0', LOG_LEVEL: 'silent' });
  const demo = await withDemoModel(config);
  const spool = await startSpool(demo.config, testRedisTarget(), createLogger('silent'));
  running.push(demo, spool);
  return spool;
}

describe('docker compose up, nothing set', () => {
  it('serves the demo model from an api that runs no model, behind a generated key that every api replica shares', async () => {
    const services = composeEnvironments(join(ROOT, 'docker-compose.yml'), {});
    await service(services.llm!);
    const api1 = await service(services.api!);
    const api2 = await service(services.api!);
    expect(api1.generatedApiKey).toMatch(/^sk-spool-/);
    expect(api2.generatedApiKey).toBeNull(); // printed once, by the replica that made it
    expect(api2.usesGeneratedKey).toBe(true);

    const local = (spool: RunningSpool) => (spool.url as string).replace('0.0.0.0', '127.0.0.1');
    const anonymous = new OpenAI({ baseURL: `${local(api1)}/v1`, apiKey: 'not-the-key', maxRetries: 0 });
    await expect(anonymous.responses.create({ model: 'demo', input: 'hi' })).rejects.toMatchObject({ status: 401 });
    const client = new OpenAI({ baseURL: `${local(api2)}/v1`, apiKey: api1.generatedApiKey as string, maxRetries: 0 });
    const r = await client.responses.create({ model: 'demo', input: 'Say hello' });
    expect(r.output_text).toMatch(/^Hello! You said: Say hello/);
  });
});
