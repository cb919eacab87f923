import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERYTHING_TOOLS, startEverything, type EverythingServer } from '@spool/testkit';
import { McpClientPool, type McpProgress } from './pool.ts';
import type { McpTarget } from './target.ts';

/**
 * The MCP project's reference server, over each transport the executor speaks: proves the pool
 * against a server we did not write.
 */
describe.each(['streamable-http', 'sse', 'stdio'] as const)('server-everything over %s', (transport) => {
  let server: EverythingServer;
  let pool: McpClientPool;
  let target: McpTarget;
  const stderr: string[] = [];

  beforeAll(async () => {
    server = await startEverything(transport);
    pool = new McpClientPool({ onStderr: (label, text) => stderr.push(`${label}: ${text}`) });
    const timeoutMs = 5_000;
    if (server.stdio) {
      const { command, args, env } = server.stdio;
      target = { kind: 'stdio', label: 'everything', command, args, env, timeoutMs };
    } else {
      // `auto` must find SSE by itself when that is what the server speaks.
      target = { kind: 'http', label: 'everything', url: server.url ?? '', transport: 'auto', headers: {}, timeoutMs };
    }
  });
  afterAll(async () => {
    await pool.close();
    await server.close();
  });

  it('lists the tools this version really exposes', async () => {
    const tools = await pool.listTools(target);
    expect(tools.map((t) => t.name).sort()).toEqual([...EVERYTHING_TOOLS].sort());
    expect(tools.find((t) => t.name === 'echo')).toMatchObject({
      description: 'Echoes back the input string',
      input_schema: { type: 'object', required: ['message'] },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    });
  });

  it('calls echo and get-sum', async () => {
    await expect(pool.callTool(target, 'echo', { message: 'hello' })).resolves.toEqual({ ok: true, output: 'Echo: hello' });
    await expect(pool.callTool(target, 'get-sum', { a: 2, b: 3 })).resolves.toEqual({
      ok: true,
      output: 'The sum of 2 and 3 is 5.',
    });
  });

  it('keeps trigger-long-running-operation alive through its progress notifications', async () => {
    const progress: McpProgress[] = [];
    // 1.2 s in 4 steps with a 600 ms timeout: only progress resetting the clock lets it finish.
    const slowTarget = { ...target, timeoutMs: 600 };
    const outcome = await pool.callTool(slowTarget, 'trigger-long-running-operation', { duration: 1.2, steps: 4 }, { onProgress: (p) => progress.push(p) });
    expect(outcome).toEqual({ ok: true, output: 'Long running operation completed. Duration: 1.2 seconds, Steps: 4.' });
    // Over HTTP+SSE the last notification can arrive after the result, when the SDK has already
    // forgotten the request: it is dropped there, not here.
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toEqual([1, 2, 3, 4].slice(0, progress.length).map((n) => ({ progress: n, total: 4 })));
  });

  it.runIf(transport === 'stdio')("hands the stdio server's stderr to onStderr", () => {
    expect(stderr.join('')).toContain('everything: Starting default (STDIO) server');
  });

  it('returns invalid arguments as a failed call (McpServer reports them as a tool error)', async () => {
    const outcome = await pool.callTool(target, 'get-sum', { a: 'two' });
    expect(outcome).toMatchObject({ ok: false, error: { type: 'mcp_tool_execution_error' } });
  });
});
