import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deleteByPrefix, startScriptedUpstream, uniquePrefix, type ScriptedUpstream, startTaskMcpServer } from '@spool/testkit';
import { startSpoolProcess, type SpoolProcess } from './support/processes.ts';
import { testRedisUrl, until, untilTerminal } from './support/spool.ts';

/**
 * An MCP call that runs as a task outlives the executor that started it: the built services run as
 * child processes on a real Redis, the executor is SIGKILLed mid-task, and another one finishes it.
 */
let upstream: ScriptedUpstream;
const prefix = `${uniquePrefix('mcp-tasks-faults')}:`;
const procs: SpoolProcess[] = [];

beforeAll(async () => {
  upstream = await startScriptedUpstream();
});
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
});
afterAll(async () => {
  await upstream?.close();
  await deleteByPrefix(testRedisUrl(), prefix);
});

describe('an MCP executor killed while its call runs as a task', () => {
  it('another executor resumes polling the same task: the call completes, the tool ran once, the result was fetched once', async () => {
    const tasks = await startTaskMcpServer({ pollIntervalMs: 200 });
    try {
      const env = { REDIS_URL: testRedisUrl(), SPOOL_PREFIX: prefix, UPSTREAM_BASE_URL: upstream.url, UPSTREAM_API_KEY: 'k', SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' };
      const api = await startSpoolProcess(env, 'api');
      const llm = await startSpoolProcess(env, 'llm');
      const executorA = await startSpoolProcess(env, 'mcp');
      procs.push(api, llm, executorA);
      const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'x', maxRetries: 0 });
      // The tool works for longer than executor A lives.
      const r = await client.responses.create({
        model: 'm',
        input: '!call k__long_task {"ms":6000}',
        tools: [{ type: 'mcp', server_label: 'k', server_url: tasks.url, require_approval: 'never' }],
        background: true,
      });
      await until(async () => tasks.methods.includes('tasks/get'), 20_000);
      await executorA.kill('SIGKILL');
      const polledBefore = tasks.methods.filter((m) => m === 'tasks/get').length;
      const executorB = await startSpoolProcess(env, 'mcp');
      procs.push(executorB);

      const final = await untilTerminal(client, r.id, 60_000);
      expect(final.status).toBe('completed');
      expect(final.output.find((i) => i.type === 'mcp_call')).toMatchObject({ status: 'completed', output: 'Done after 6000 ms', error: null });
      expect(final.output_text).toBe('Tool results: Done after 6000 ms');
      expect(tasks.runs()).toBe(1);
      expect(tasks.methods.filter((m) => m === 'tools/call')).toHaveLength(1);
      expect(tasks.methods.filter((m) => m === 'tasks/get').length).toBeGreaterThan(polledBefore);
      expect(tasks.methods.filter((m) => m === 'tasks/result')).toHaveLength(1);
    } finally {
      await tasks.close();
    }
  }, 120_000);
});
