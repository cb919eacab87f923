import type { McpCallError as ProtocolMcpCallError, McpToolInfo as ProtocolMcpToolInfo } from '@spool/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { FAIL_PROTOCOL_CODE, FAIL_PROTOCOL_MESSAGE, startSilentServer, startTestMcpServer, unreachableUrl, type TestMcpServer } from '@spool/testkit';
import { McpServerError } from './errors.ts';
import { McpClientPool, type McpCallError, type McpCallOutcome, type McpProgress, type McpToolInfo } from './pool.ts';
import type { McpTarget } from './target.ts';

type HttpTransport = Extract<McpTarget, { kind: 'http' }>['transport'];

function target(url: string, transport: HttpTransport, over: Partial<Extract<McpTarget, { kind: 'http' }>> = {}): McpTarget {
  return { kind: 'http', label: 'test', url, transport, headers: {}, timeoutMs: 5_000, ...over };
}

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function failure(outcome: McpCallOutcome): { error: McpCallError; message: string } {
  if (outcome.ok) throw new Error(`expected a failed outcome, got output ${outcome.output}`);
  return outcome;
}

/** Initialize requests seen by a server = sessions opened by clients. */
function sessionsOpened(server: TestMcpServer, mode: 'streamable-http' | 'sse'): number {
  return mode === 'sse'
    ? server.requests.filter((r) => r.method === 'GET' && r.path === '/sse').length
    : server.requests.filter((r) => r.method === 'POST' && r.headers['mcp-session-id'] === undefined).length;
}

it('matches the protocol package types of mcp_list_tools and mcp_call errors', () => {
  expectTypeOf<McpToolInfo>().toExtend<ProtocolMcpToolInfo>();
  expectTypeOf<McpCallError>().toExtend<ProtocolMcpCallError>();
});

const MATRIX = [
  { server: 'streamable-http', client: 'streamable-http' },
  { server: 'streamable-http', client: 'auto' },
  { server: 'sse', client: 'auto' },
  { server: 'sse', client: 'sse' },
] as const;

describe.each(MATRIX)('$server server, $client client', ({ server: mode, client }) => {
  let server: TestMcpServer;
  let pool: McpClientPool;
  beforeAll(async () => {
    server = await startTestMcpServer({ transport: mode });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    await pool.close();
  });
  const make = (options?: ConstructorParameters<typeof McpClientPool>[0]): McpClientPool => {
    pool = new McpClientPool(options);
    return pool;
  };

  it('lists the tools with their schemas and annotations', async () => {
    const tools = await make().listTools(target(server.url, client));
    expect(tools.map((t) => t.name).sort()).toEqual(['add', 'crash', 'delete_thing', 'echo', 'fail_protocol', 'idempotent_thing', 'slow'].sort());
    const echo = tools.find((t) => t.name === 'echo');
    expect(echo).toMatchObject({
      description: 'Echoes the message back',
      input_schema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
      annotations: { readOnlyHint: true },
    });
    expect(tools.find((t) => t.name === 'delete_thing')?.annotations).toEqual({ destructiveHint: true, readOnlyHint: false });
    expect(tools.find((t) => t.name === 'idempotent_thing')?.annotations).toEqual({ idempotentHint: true, readOnlyHint: false });
    expect(tools.find((t) => t.name === 'crash')?.annotations).toBeNull();
  });

  it('calls tools and returns their text output', async () => {
    const p = make();
    const t = target(server.url, client);
    await expect(p.callTool(t, 'echo', { message: 'hi' })).resolves.toEqual({ ok: true, output: 'Echo: hi' });
    await expect(p.callTool(t, 'add', { a: 2, b: 3 })).resolves.toEqual({ ok: true, output: '5' });
    expect(server.calls.slice(-2)).toEqual([
      { name: 'echo', args: { message: 'hi' } },
      { name: 'add', args: { a: 2, b: 3 } },
    ]);
  });

  it('shares one session between calls and between concurrent first uses', async () => {
    const p = make();
    const before = sessionsOpened(server, mode);
    const t = target(server.url, client);
    await Promise.all([p.listTools(t), p.listTools(t), p.callTool(t, 'echo', { message: 'a' }), p.listTools(t)]);
    await p.callTool(t, 'echo', { message: 'b' });
    expect(sessionsOpened(server, mode) - before).toBe(1);
  });

  it('never shares a session between different credentials', async () => {
    const p = make();
    const before = sessionsOpened(server, mode);
    await p.listTools(target(server.url, client, { headers: { Authorization: 'Bearer alice' } }));
    await p.listTools(target(server.url, client, { headers: { Authorization: 'Bearer bob' } }));
    await p.listTools(target(server.url, client, { headers: { authorization: 'Bearer alice' } }));
    expect(sessionsOpened(server, mode) - before).toBe(2);
  });

  it('sends the target headers on every HTTP request, the SSE stream GET included', async () => {
    const first = server.requests.length;
    const p = make();
    const t = target(server.url, client, { headers: { 'X-Spool-Test': 'h1' } });
    await p.listTools(t);
    await p.callTool(t, 'echo', { message: 'x' });
    const seen = server.requests.slice(first);
    // With `auto` against an SSE server the first POST is the Streamable HTTP probe: it carries them too.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const request of seen) expect(request.headers['x-spool-test']).toBe('h1');
    if (mode === 'sse') expect(seen.some((r) => r.method === 'GET' && r.path === '/sse')).toBe(true);
  });

  it('returns a tool that throws as mcp_tool_execution_error with its content', async () => {
    const outcome = failure(await make().callTool(target(server.url, client), 'crash', {}));
    expect(outcome.error).toEqual({
      type: 'mcp_tool_execution_error',
      content: [{ type: 'text', text: 'crash: the tool failed on purpose' }],
    });
    expect(outcome.message).toBe('crash: the tool failed on purpose');
  });

  it('returns a JSON-RPC error as mcp_protocol_error', async () => {
    const outcome = failure(await make().callTool(target(server.url, client), 'fail_protocol', {}));
    expect(outcome.error).toEqual({ type: 'mcp_protocol_error', code: FAIL_PROTOCOL_CODE, message: FAIL_PROTOCOL_MESSAGE });
    expect(outcome.message).toContain(FAIL_PROTOCOL_MESSAGE);
  });

  it('times out a slow tool, tells the server (notifications/cancelled) and keeps the session', async () => {
    const p = make();
    const t = target(server.url, client, { timeoutMs: 300 });
    const cancelled = server.cancellations.length;
    const started = Date.now();
    const outcome = failure(await p.callTool(t, 'slow', { ms: 5_000 }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(outcome.error).toMatchObject({ type: 'mcp_protocol_error', code: -32001 });
    expect(outcome.message).toMatch(/timed out after 300 ms/);
    await until(() => server.cancellations.length > cancelled);
    expect(server.cancellations.slice(cancelled)).toEqual(['slow']);
    // A timeout is the request's failure, not the session's.
    const before = sessionsOpened(server, mode);
    await expect(p.callTool(t, 'echo', { message: 'still here' })).resolves.toEqual({ ok: true, output: 'Echo: still here' });
    expect(sessionsOpened(server, mode)).toBe(before);
  });

  it('cancels a call when the caller aborts, and tells the server', async () => {
    const p = make();
    const controller = new AbortController();
    const cancelled = server.cancellations.length;
    const callsBefore = server.calls.length;
    const call = p.callTool(target(server.url, client), 'slow', { ms: 5_000 }, { signal: controller.signal });
    await until(() => server.calls.slice(callsBefore).some((c) => c.name === 'slow'));
    controller.abort();
    const outcome = failure(await call);
    expect(outcome.error).toMatchObject({ type: 'mcp_protocol_error', code: -32001 });
    expect(outcome.message).toMatch(/cancelled/);
    await until(() => server.cancellations.length > cancelled);
    expect(server.cancellations.slice(cancelled)).toEqual(['slow']);
  });

  it('does not connect at all for an already aborted signal', async () => {
    const before = server.requests.length;
    const outcome = failure(await make().callTool(target(server.url, client), 'echo', { message: 'x' }, { signal: AbortSignal.abort() }));
    expect(outcome.message).toMatch(/cancelled/);
    expect(server.requests.length).toBe(before);
  });

  it('reports progress, and progress keeps a call alive past its timeout', async () => {
    const progress: McpProgress[] = [];
    const outcome = await make().callTool(target(server.url, client, { timeoutMs: 500 }), 'slow', { ms: 1_300 }, { onProgress: (p) => progress.push(p) });
    expect(outcome).toEqual({ ok: true, output: 'Slept 1300 ms' });
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]).toMatchObject({ total: 1300, message: expect.stringMatching(/^slept \d+ ms$/) });
    expect(progress.map((p) => p.progress)).toEqual([...progress.map((p) => p.progress)].sort((a, b) => a - b));
  });

  it('reconnects after the server restarts on the same port', async () => {
    const own = await startTestMcpServer({ transport: mode });
    const p = make();
    const t = target(own.url, client);
    expect((await p.listTools(t)).length).toBe(7);
    await own.close();

    const again = await startTestMcpServer({ transport: mode, port: own.port });
    try {
      // listTools retries once on a fresh session when the pooled one went stale.
      expect((await p.listTools(t)).length).toBe(7);
      await expect(p.callTool(t, 'echo', { message: 'back' })).resolves.toEqual({ ok: true, output: 'Echo: back' });
      expect(sessionsOpened(again, mode)).toBe(1);

      // A call on a session that went stale is not retried (the caller decides); the next one reconnects.
      await again.close();
      const third = await startTestMcpServer({ transport: mode, port: own.port });
      try {
        const first = await p.callTool(t, 'echo', { message: 'one' });
        if (!first.ok) {
          // The new server does not know the session (404), or the request died on a socket the old
          // server closed, or (HTTP+SSE) the stream is gone: a session failure, and nothing ran.
          expect([
            { type: 'http_error', code: 404 },
            { type: 'mcp_protocol_error', code: -32000 },
          ]).toContainEqual({ type: first.error.type, code: 'code' in first.error ? first.error.code : undefined });
          expect(third.calls).toEqual([]);
        }
        await expect(p.callTool(t, 'echo', { message: 'two' })).resolves.toEqual({ ok: true, output: 'Echo: two' });
      } finally {
        await third.close();
      }
    } finally {
      await again.close();
    }
  });

  it('follows pagination cursors', async () => {
    const paged = await startTestMcpServer({ transport: mode, pageSize: 3 });
    try {
      const tools = await make().listTools(target(paged.url, client));
      expect(tools).toHaveLength(7);
      expect(new Set(tools.map((t) => t.name)).size).toBe(7);
    } finally {
      await paged.close();
    }
  });

  it('ends HTTP sessions on close and after being idle', async () => {
    const own = await startTestMcpServer({ transport: mode });
    try {
      const p = make({ idleTimeoutMs: 100 });
      const t = target(own.url, client);
      await p.listTools(t);
      await new Promise((r) => setTimeout(r, 300));
      await p.listTools(t);
      expect(sessionsOpened(own, mode)).toBe(2);
      await p.close();
      if (mode === 'streamable-http') {
        expect(own.requests.filter((r) => r.method === 'DELETE')).toHaveLength(2);
      }
      await expect(p.listTools(t)).rejects.toThrow(/closed/);
    } finally {
      await own.close();
    }
  });
});

describe.each(['streamable-http', 'sse'] as const)('authentication (%s)', (mode) => {
  let server: TestMcpServer;
  let pool: McpClientPool;
  beforeAll(async () => {
    server = await startTestMcpServer({ transport: mode, requireAuth: 'Bearer right' });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    await pool.close();
  });

  it.each([
    ['no header', {}],
    ['a wrong header', { Authorization: 'Bearer wrong' }],
  ])('fails loudly with %s: 401, never an empty list', async (_, headers) => {
    pool = new McpClientPool();
    const t = target(server.url, 'auto', { label: 'secured', headers });
    const error = await pool.listTools(t).catch((e: unknown) => e);
    // The server's challenge is a plain `Bearer realm=…`: the hint says what to do, with no metadata to point at.
    const hint = "Authorization required: get an OAuth access token for this MCP server and pass it as the mcp tool's `authorization`.";
    expect(error).toBeInstanceOf(McpServerError);
    expect(error).toMatchObject({
      name: 'McpServerError',
      code: 'mcp_unauthorized',
      httpStatus: 401,
      message: `Error retrieving tool list from MCP server: 'secured'. Http status code: 401 (Unauthorized). ${hint}`,
    });
    expect((error as McpServerError).toJSON()).toEqual({
      code: 'mcp_unauthorized',
      httpStatus: 401,
      message: `Error retrieving tool list from MCP server: 'secured'. Http status code: 401 (Unauthorized). ${hint}`,
    });
    // The wrong credential is not repeated in the error.
    expect(JSON.stringify((error as McpServerError).toJSON())).not.toContain('wrong');

    const outcome = failure(await pool.callTool(t, 'echo', { message: 'x' }));
    expect(outcome.error).toEqual({ type: 'http_error', code: 401, message: `HTTP 401 Unauthorized. ${hint}` });
    expect(outcome.message).toContain('HTTP 401 Unauthorized');
  });

  it('says where to get authorization when the 401 points at OAuth protected-resource metadata', async () => {
    const oauth = await startTestMcpServer({ transport: mode, oauth: { clientId: 'c', clientSecret: 's', scope: 'tools:read' } });
    try {
      pool = new McpClientPool();
      const t = target(oauth.url, 'auto', { label: 'secured', headers: { Authorization: 'Bearer not-issued' } });
      const where = `(its OAuth protected-resource metadata is at ${oauth.resourceMetadataUrl}; scope: tools:read)`;
      const error = await pool.listTools(t).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'mcp_unauthorized', httpStatus: 401 });
      expect((error as Error).message).toBe(
        `Error retrieving tool list from MCP server: 'secured'. Http status code: 401 (Unauthorized). Authorization required: get an OAuth access token for this MCP server ${where} and pass it as the mcp tool's \`authorization\`.`,
      );
      const outcome = failure(await pool.callTool(t, 'echo', { message: 'x' }));
      expect(outcome.error).toMatchObject({ type: 'http_error', code: 401 });
      expect((outcome.error as { message: string }).message).toContain(where);
      expect(outcome.message).not.toContain('not-issued');
    } finally {
      await oauth.close();
    }
  });

  it('works with the right header, on every transport setting', async () => {
    pool = new McpClientPool();
    for (const transport of ['auto', mode] as const) {
      const t = target(server.url, transport, { headers: { Authorization: 'Bearer right' } });
      expect((await pool.listTools(t)).length).toBe(7);
      await expect(pool.callTool(t, 'echo', { message: 'in' })).resolves.toEqual({ ok: true, output: 'Echo: in' });
    }
  });
});

describe.each([
  { status: 500, code: 'mcp_list_failed', text: 'HTTP 500 Internal Server Error', reason: '500 (Internal Server Error)' },
  { status: 403, code: 'mcp_unauthorized', text: 'HTTP 403 Forbidden', reason: '403 (Forbidden)' },
  { status: 404, code: 'mcp_list_failed', text: 'HTTP 404 Not Found', reason: '404 (Not Found)' },
])('a server answering HTTP $status', ({ status, code, text, reason }) => {
  let server: TestMcpServer;
  let pool: McpClientPool;
  beforeAll(async () => {
    server = await startTestMcpServer({ failWith: status });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    await pool.close();
  });

  it.each(['auto', 'streamable-http', 'sse'] as const)('is an HTTP error naming the status (%s)', async (transport) => {
    pool = new McpClientPool();
    const t = target(server.url, transport, { label: 'broken' });
    await expect(pool.listTools(t)).rejects.toMatchObject({
      code,
      httpStatus: status,
      message: `Error retrieving tool list from MCP server: 'broken'. Http status code: ${reason}`,
    });
    const outcome = failure(await pool.callTool(t, 'echo', { message: 'x' }));
    expect(outcome.error).toEqual({ type: 'http_error', code: status, message: text });
    expect(outcome.message).toContain(text);
  });
});

describe('servers that cannot be reached', () => {
  let pool: McpClientPool;
  afterEach(async () => {
    await pool.close();
  });

  it.each(['auto', 'streamable-http', 'sse'] as const)('reports a refused connection as mcp_unreachable (%s)', async (transport) => {
    pool = new McpClientPool();
    const t = target(await unreachableUrl(), transport, { label: 'gone' });
    await expect(pool.listTools(t)).rejects.toMatchObject({
      name: 'McpServerError',
      code: 'mcp_unreachable',
      message: "Error retrieving tool list from MCP server: 'gone'. Could not connect: connection refused (ECONNREFUSED).",
    });
    const outcome = failure(await pool.callTool(t, 'echo', { message: 'x' }));
    expect(outcome.error).toMatchObject({ type: 'mcp_protocol_error', code: -32000 });
    expect(outcome.message).toMatch(/connection refused/);
  });

  it('times out connecting to a server that never answers', async () => {
    const silent = await startSilentServer();
    try {
      pool = new McpClientPool({ connectTimeoutMs: 300 });
      const t = target(silent.url, 'auto', { label: 'hung' });
      await expect(pool.listTools(t)).rejects.toMatchObject({
        code: 'mcp_timeout',
        message: "Error retrieving tool list from MCP server: 'hung'. Timed out connecting to the MCP server after 300 ms.",
      });
      const outcome = failure(await pool.callTool(t, 'echo', {}));
      expect(outcome.error).toMatchObject({ type: 'mcp_protocol_error', code: -32001 });
    } finally {
      await silent.close();
    }
  });

  it('lets one caller give up on a shared connection attempt', async () => {
    const silent = await startSilentServer();
    try {
      pool = new McpClientPool({ connectTimeoutMs: 1_000 });
      const controller = new AbortController();
      const t = target(silent.url, 'streamable-http');
      const patient = pool.listTools(t).catch((e: unknown) => e);
      const impatient = pool.callTool(t, 'echo', {}, { signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      expect(failure(await impatient).message).toMatch(/cancelled/);
      expect(Date.now() - started).toBeLessThan(800);
      expect(await patient).toMatchObject({ code: 'mcp_timeout' });
    } finally {
      await silent.close();
    }
  });

  it('reports a stdio command that does not exist, or exits at once, as mcp_unreachable', async () => {
    pool = new McpClientPool();
    const base = { kind: 'stdio' as const, label: 'local', args: [], env: {}, timeoutMs: 5_000 };
    await expect(pool.listTools({ ...base, command: '/nonexistent/spool-mcp-server' })).rejects.toMatchObject({
      code: 'mcp_unreachable',
      message: expect.stringContaining('command not found (ENOENT)'),
    });
    await expect(pool.listTools({ ...base, command: process.execPath, args: ['-e', 'process.exit(3)'] })).rejects.toMatchObject({ code: 'mcp_unreachable' });
  });

  it('refuses header values that would corrupt the request, without quoting them', async () => {
    pool = new McpClientPool();
    const t = target(await unreachableUrl(), 'auto', { headers: { Authorization: 'Bearer a\r\nX-Evil: 1' } });
    const error = await pool.listTools(t).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'mcp_list_failed' });
    expect((error as Error).message).toContain("Invalid value for HTTP header 'Authorization'");
    expect((error as Error).message).not.toContain('Bearer');
  });
});
