import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteByPrefix, startScriptedUpstream, uniquePrefix, type ScriptedUpstream } from '@spool/testkit';
import { startSpoolProcess, type SpoolProcess } from './support/processes.ts';
import { testRedisUrl, until, untilTerminal } from './support/spool.ts';

/**
 * Faults with real processes: the built services run as child processes on a real Redis; the
 * test injects the fault and checks the outcome through the openai client.
 */
let upstream: ScriptedUpstream;
const prefix = `${uniquePrefix('faults')}:`;
const procs: SpoolProcess[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  upstream = await startScriptedUpstream();
  env = { REDIS_URL: testRedisUrl(), SPOOL_PREFIX: prefix, UPSTREAM_BASE_URL: upstream.url, UPSTREAM_API_KEY: 'k' };
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await upstream?.close();
  await deleteByPrefix(testRedisUrl(), prefix);
});

describe('a worker killed mid-turn', () => {
  it('leaves no response in progress: another worker fails it as interrupted, with a stream the SDK accepts', async () => {
    const api = await startSpoolProcess(env, 'api');
    const workerA = await startSpoolProcess(env, 'llm,mcp');
    procs.push(api, workerA);
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'x', maxRetries: 0 });

    const created = await Promise.all(Array.from({ length: 5 }, () => client.responses.create({ model: 'm', input: '!delay 100\n!words 200', background: true })));
    await until(async () => {
      const r = await client.responses.retrieve(created[0]!.id);
      return r.status === 'in_progress' && r.output.length > 0;
    });
    await workerA.kill('SIGKILL');
    const killedAt = Date.now();
    const workerB = await startSpoolProcess(env, 'llm,mcp');
    procs.push(workerB);

    const finals = await Promise.all(created.map((c) => untilTerminal(client, c.id)));
    const recoverySeconds = (Date.now() - killedAt) / 1000;
    expect(recoverySeconds).toBeLessThan(40);
    for (const r of finals) {
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('server_error');
      expect(r.error?.message).toMatch(/interrupted/);
      for (const item of r.output) expect((item as { status?: string }).status).not.toBe('in_progress');
      const stream = client.responses.stream({ response_id: r.id });
      const types: string[] = [];
      for await (const e of stream) types.push(e.type);
      expect(types[0]).toBe('response.created');
      expect(types.at(-1)).toBe('response.failed');
    }
  }, 90_000);
});
