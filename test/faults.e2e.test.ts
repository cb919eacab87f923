import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedUpstream, uniquePrefix, type ScriptedUpstream, startTestMcpServer } from '@spool/testkit';
import { startSpoolProcess, type SpoolProcess } from './support/processes.ts';
import { deleteTestData, eventsOf, readSse, redisEnv, testRedisTarget, until, untilTerminal } from './support/spool.ts';

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
  env = { ...redisEnv(), SPOOL_PREFIX: prefix, UPSTREAM_BASE_URL: upstream.url, UPSTREAM_API_KEY: 'k' };
});
// Each test runs only its own processes: a worker left from another test would take its jobs.
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
});
afterAll(async () => {
  await upstream?.close();
  await deleteTestData(testRedisTarget(), prefix);
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

describe('graceful shutdown (SIGTERM)', () => {
  it('ends open streams without [DONE] so the client resumes on another replica, with no gap and no duplicate', async () => {
    const api1 = await startSpoolProcess(env, 'api');
    const api2 = await startSpoolProcess(env, 'api');
    const worker = await startSpoolProcess(env, 'llm,mcp');
    procs.push(api1, api2, worker);
    const client = new OpenAI({ baseURL: `${api1.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const r = await client.responses.create({ model: 'm', input: '!delay 30\n!words 80', background: true });

    const res = await fetch(`${api1.url}/v1/responses/${r.id}?stream=true`);
    const reading = readSse(res);
    await until(async () => (await client.responses.retrieve(r.id)).output.length > 0);
    await api1.kill('SIGTERM');
    const first = await reading;
    expect(first.frames.at(-1)?.data).not.toBe('[DONE]');
    expect(first.comments.some((c) => c.includes('shutting down'))).toBe(true);
    const got = eventsOf(first.frames);
    const last = got.at(-1)!.sequence_number;

    const rest = await readSse(await fetch(`${api2.url}/v1/responses/${r.id}?stream=true&starting_after=${last}`));
    expect(rest.frames.at(-1)?.data).toBe('[DONE]');
    const all = [...got, ...eventsOf(rest.frames)];
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(all.at(-1)?.type).toBe('response.completed');
  }, 60_000);

  it('lets a worker finish the turn in hand before it exits', async () => {
    const api = await startSpoolProcess(env, 'api');
    const worker = await startSpoolProcess(env, 'llm,mcp');
    procs.push(api, worker);
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const r = await client.responses.create({ model: 'm', input: '!delay 20\n!words 60', background: true });
    await until(async () => (await client.responses.retrieve(r.id)).output.length > 0);
    await worker.kill('SIGTERM');
    const final = await client.responses.retrieve(r.id);
    expect(final.status).toBe('completed');
    expect(final.output_text.split(' ')).toHaveLength(60);
  }, 60_000);
});

describe('an MCP executor killed mid-call', () => {
  it('does not run an unsafe call again: the mcp_call fails as interrupted, the model is told, the response completes', async () => {
    const mcpServer = await startTestMcpServer({});
    try {
      const mcpEnv = { ...env, SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' };
      const api = await startSpoolProcess(mcpEnv, 'api');
      const llm = await startSpoolProcess(mcpEnv, 'llm');
      const executorA = await startSpoolProcess(mcpEnv, 'mcp');
      procs.push(api, llm, executorA);
      const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const r = await client.responses.create({
        model: 'm',
        input: '!call t__slow {"ms":60000}',
        tools: [{ type: 'mcp', server_label: 't', server_url: mcpServer.url, require_approval: 'never' }],
        background: true,
      });
      await until(async () => mcpServer.calls.some((c) => c.name === 'slow'), 20_000);
      await executorA.kill('SIGKILL');
      const executorB = await startSpoolProcess(mcpEnv, 'mcp');
      procs.push(executorB);

      const final = await untilTerminal(client, r.id, 45_000);
      expect(final.status).toBe('completed');
      const call = final.output.find((i) => i.type === 'mcp_call') as OpenAI.Responses.ResponseOutputItem.McpCall;
      expect(call.status).toBe('failed');
      expect(JSON.stringify(call.error)).toMatch(/interrupted/);
      expect(mcpServer.calls.filter((c) => c.name === 'slow')).toHaveLength(1);
      expect(final.output_text).toMatch(/^Tool results: Error: /);
    } finally {
      await mcpServer.close();
    }
  }, 90_000);
});
