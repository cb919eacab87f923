import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaskMcpServer, startTestMcpServer, type TaskMcpServer, type TestMcpServer } from '@spool/testkit';
import { startTestSpool, until, type TestSpool } from './support/spool.ts';

/**
 * MCP beyond plain calls: progress reaching the client's stream, per-user authorization and OAuth
 * client credentials. Real MCP servers (the SDK's), real Redis, the official client.
 */
let spool: TestSpool;
let server: TestMcpServer;
let oauthServer: TestMcpServer;
let timedTasks: TaskMcpServer;
const never = { require_approval: 'never' as const };
const OAUTH = { clientId: 'spool-client', clientSecret: 'cs-e2e-secret-value', scope: 'tools' };

beforeAll(async () => {
  [server, oauthServer, timedTasks] = await Promise.all([startTestMcpServer({ extras: true }), startTestMcpServer({ oauth: OAUTH }), startTaskMcpServer({ pollIntervalMs: 100 })]);
  spool = await startTestSpool({
    name: 'mcp-features',
    env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1', MCP_OAUTH_SECRET: OAUTH.clientSecret },
    file: {
      // The test server reports progress every 200 ms; one event per 100 ms lets each through.
      limits: { mcp_progress_interval_ms: 100, mcp_tool_list_cache_seconds: 0 },
      mcp_servers: {
        timed: { url: timedTasks.url, transport: 'streamable-http', task_timeout_ms: 1000 },
        machine: {
          url: oauthServer.url,
          transport: 'streamable-http',
          oauth: { token_url: oauthServer.tokenUrl, client_id: OAUTH.clientId, client_secret_env: 'MCP_OAUTH_SECRET', scope: OAUTH.scope },
        },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await spool?.close();
  await Promise.all([server?.close(), oauthServer?.close(), timedTasks?.close()]);
});

/** A token from the test server's token endpoint, as a user's OAuth client would get one. */
async function userToken(): Promise<string> {
  const res = await fetch(oauthServer.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${OAUTH.clientId}:${OAUTH.clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('MCP progress as events', () => {
  it('streams mcp_call.in_progress while the tool reports progress; the SDK helper accepts it and a poll sees the call in progress', async () => {
    const stream = spool.client.responses.stream({
      model: 'm',
      input: '!call t__slow {"ms":1500}',
      tools: [{ type: 'mcp', server_label: 't', server_url: server.url, ...never }],
      background: true,
    });
    let responseId = '';
    let callId = '';
    let progressEvents = 0;
    let polled: OpenAI.Responses.Response | undefined;
    for await (const e of stream) {
      if (e.type === 'response.created') responseId = e.response.id;
      if (e.type === 'response.output_item.added' && e.item.type === 'mcp_call') callId = e.item.id;
      if (e.type === 'response.mcp_call.in_progress' && e.item_id === callId) {
        progressEvents++;
        // The first one is the turn's own; from the second on they come from the executor, mid-call.
        if (progressEvents === 2) polled = await spool.client.responses.retrieve(responseId);
      }
    }
    const final = await stream.finalResponse();
    expect(progressEvents).toBeGreaterThanOrEqual(3);
    expect(polled?.status).toBe('in_progress');
    expect(polled?.output.find((i) => i.id === callId)).toMatchObject({ type: 'mcp_call', status: 'in_progress' });
    // Nothing arrived after the result: the streamed snapshot's call is completed, as is the stored one.
    expect(final.status).toBe('completed');
    expect(final.output.find((i) => i.id === callId)).toMatchObject({ status: 'completed', output: 'Slept 1500 ms' });
    const stored = await spool.client.responses.retrieve(final.id);
    expect(stored.output.find((i) => i.id === callId)).toMatchObject({ status: 'completed' });
    expect(server.calls.filter((c) => c.name === 'slow')).toHaveLength(1);
  });
});

describe('MCP authorization', () => {
  it('a 401 with OAuth metadata fails the listing saying where to get authorization; the authorization field then works, sent to that server only, never echoed or stored', async () => {
    const err = await spool.client.responses.create({ model: 'm', input: 'hi', tools: [{ type: 'mcp', server_label: 'u', server_url: oauthServer.url, ...never }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ status: 424 });
    expect((err as Error).message).toContain('Http status code: 401 (Unauthorized). Authorization required');
    expect((err as Error).message).toContain(`protected-resource metadata is at ${oauthServer.resourceMetadataUrl}; scope: tools`);

    // Told where, the user gets a token; the `authorization` field carries it to that server only.
    const token = await userToken();
    const r = await spool.client.responses.create({
      model: 'm',
      input: '!call u__echo {"message":"as the user"}',
      tools: [
        { type: 'mcp', server_label: 'u', server_url: oauthServer.url, authorization: token, ...never } as OpenAI.Responses.Tool,
        { type: 'mcp', server_label: 'other', server_url: server.url, ...never },
      ],
    });
    expect(r.output.find((i) => i.type === 'mcp_call')).toMatchObject({ status: 'completed', output: 'Echo: as the user' });
    const mcpRequests = oauthServer.requests.filter((q) => q.path === '/mcp' && q.headers.authorization === `Bearer ${token}`);
    expect(mcpRequests.length).toBeGreaterThan(0);
    expect(server.requests.some((q) => JSON.stringify(q.headers).includes(token))).toBe(false);
    expect(JSON.stringify(r)).not.toContain(token);
    expect(JSON.stringify(await spool.client.responses.retrieve(r.id))).not.toContain(token);
  });

  it('gets a token for a configured server with oauth client credentials, reuses it, and renews it when refused', async () => {
    const before = oauthServer.tokensIssued.length;
    const call = (message: string) => spool.client.responses.create({ model: 'm', input: `!call machine__echo {"message":"${message}"}`, tools: [{ type: 'mcp', server_label: 'machine', ...never }] });
    const first = await call('one');
    expect(first.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_call', 'message']);
    expect(first.output[1]).toMatchObject({ status: 'completed', output: 'Echo: one' });
    await call('two');
    // One token for the listing and both calls of both responses.
    expect(oauthServer.tokensIssued.length).toBe(before + 1);

    oauthServer.revokeTokens();
    const third = await call('three');
    expect(third.output[1]).toMatchObject({ status: 'completed', output: 'Echo: three' });
    expect(oauthServer.tokensIssued.length).toBe(before + 2);
    expect(JSON.stringify(third)).not.toContain(OAUTH.clientSecret);
  });
});

describe('MCP structured output and resource links', () => {
  it('keeps resource links, embedded resources and structuredContent in the mcp_call output, in the documented form', async () => {
    const r = await spool.client.responses.create({
      model: 'm',
      input: '!call t__rich {}',
      tools: [{ type: 'mcp', server_label: 't', server_url: server.url, ...never }],
    });
    const call = r.output.find((i): i is OpenAI.Responses.ResponseOutputItem.McpCall => i.type === 'mcp_call');
    expect(call).toMatchObject({ status: 'completed', error: null });
    expect(call?.output).toBe(
      [
        'Found 1 report.',
        '[resource_link file:///reports/q3.pdf] q3.pdf (application/pdf): The Q3 report',
        '[resource file:///notes.txt] (text/plain)',
        'remember the milk',
        '[resource file:///logo.bin] (application/octet-stream) 8 bytes of binary content, not shown',
        '[image (image/png) 14 bytes, not shown]',
        '[structuredContent] {"reports":1}',
      ].join('\n'),
    );
    // The model reads the same text (the scripted upstream answers with the tool results it got).
    expect(r.output_text).toBe(`Tool results: ${call?.output}`);

    const structured = await spool.client.responses.create({
      model: 'm',
      input: '!call t__structured {"city":"Oslo"}',
      tools: [{ type: 'mcp', server_label: 't', server_url: server.url, ...never }],
    });
    // The spec's text copy of the structured content is not repeated.
    expect(structured.output.find((i) => i.type === 'mcp_call')).toMatchObject({ status: 'completed', output: '{"city":"Oslo","celsius":21}' });
  });
});

describe('MCP tasks', () => {
  it('runs a call on a tasks-enabled server as a task: polled in short jobs, progress on the stream, the result fetched once', async () => {
    const tasks = await startTaskMcpServer({ pollIntervalMs: 100 });
    try {
      const stream = spool.client.responses.stream({
        model: 'm',
        input: '!call k__long_task {"ms":1200}',
        tools: [{ type: 'mcp', server_label: 'k', server_url: tasks.url, ...never }],
        background: true,
      });
      let callId = '';
      let inProgress = 0;
      for await (const e of stream) {
        if (e.type === 'response.output_item.added' && e.item.type === 'mcp_call') callId = e.item.id;
        if (e.type === 'response.mcp_call.in_progress' && e.item_id === callId) inProgress++;
      }
      const final = await stream.finalResponse();
      expect(final.output.find((i) => i.id === callId)).toMatchObject({ status: 'completed', output: 'Done after 1200 ms' });
      expect(tasks.runs()).toBe(1);
      const calls = tasks.methods.filter((m) => m === 'tools/call');
      expect(calls).toHaveLength(1);
      expect(tasks.methods.filter((m) => m === 'tasks/get').length).toBeGreaterThan(1);
      expect(tasks.methods.filter((m) => m === 'tasks/result')).toHaveLength(1);
      // The turn's own event, then "still working" from the polls (one per 100 ms at most).
      expect(inProgress).toBeGreaterThanOrEqual(2);
      // A tool without task support on the same server runs as a plain call.
      const plain = await spool.client.responses.create({ model: 'm', input: '!call k__echo {"message":"x"}', tools: [{ type: 'mcp', server_label: 'k', server_url: tasks.url, ...never }] });
      expect(plain.output.find((i) => i.type === 'mcp_call')).toMatchObject({ status: 'completed', output: 'Echo: x' });
      expect(tasks.methods.filter((m) => m === 'tools/call')).toHaveLength(2);
    } finally {
      await tasks.close();
    }
  });

  it("bounds a task by the server's task_timeout_ms: past it the task is cancelled and the call fails saying so", async () => {
    const r = await spool.client.responses.create({ model: 'm', input: '!call timed__long_task {"ms":60000}', tools: [{ type: 'mcp', server_label: 'timed', ...never }] });
    expect(r.status).toBe('completed');
    const call = r.output.find((i): i is OpenAI.Responses.ResponseOutputItem.McpCall => i.type === 'mcp_call');
    expect(call?.status).toBe('failed');
    expect(call?.error).toMatchObject({ type: 'mcp_protocol_error', code: -32001 });
    expect(JSON.stringify(call?.error)).toContain('did not finish within 1000 ms (task_timeout_ms) and was cancelled');
    expect(timedTasks.methods).toContain('tasks/cancel');
    expect((await timedTasks.task(timedTasks.taskIds()[0]!))?.status).toBe('cancelled');
  });

  it('sends tasks/cancel when the response is cancelled', async () => {
    const tasks = await startTaskMcpServer({ pollIntervalMs: 100 });
    try {
      const r = await spool.client.responses.create({
        model: 'm',
        input: '!call k__long_task {"ms":60000}',
        tools: [{ type: 'mcp', server_label: 'k', server_url: tasks.url, ...never }],
        background: true,
      });
      await until(async () => tasks.methods.includes('tasks/get'), 20_000);
      expect((await spool.client.responses.cancel(r.id)).status).toBe('cancelled');
      await until(async () => tasks.methods.includes('tasks/cancel'), 20_000);
      const [taskId] = tasks.taskIds();
      expect((await tasks.task(taskId!))?.status).toBe('cancelled');
    } finally {
      await tasks.close();
    }
  });
});

describe('MCP elicitation during a live call', () => {
  // Parking a call on the question (stored responses) is test/mcp-elicitation.e2e.test.ts.
  it('declines a form elicitation cleanly where nothing can resume the call (store: false) and tells the model what the tool asked', async () => {
    const r = await spool.client.responses.create({ model: 'm', input: '!call t__ask {}', store: false, tools: [{ type: 'mcp', server_label: 't', server_url: server.url, ...never }] });
    expect(r.status).toBe('completed');
    expect(r.output.find((i) => i.type === 'mcp_call')).toMatchObject({
      status: 'completed',
      error: null,
      output:
        'No answer (decline), nothing deployed.\n[elicitation declined] The tool asked the user: "Which environment should I deploy to?". Spool cannot ask the user during this call (a Chat Completions or store: false response cannot be resumed), so it declined.',
    });
  });
});
