import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startElicitMcpServer, type ElicitMcpServer, deleteByPrefix, uniquePrefix } from '@spool/testkit';
import { startSpoolProcess, type SpoolProcess } from './support/processes.ts';
import { startTestSpool, testRedisUrl, until, type TestSpool } from './support/spool.ts';

/**
 * MCP elicitation parks a call like an approval: a real SDK server whose tools ask the user, real
 * Redis, the official client. The item is a Spool extension, so the SDK types it loosely.
 */
let spool: TestSpool;
let server: ElicitMcpServer;
let tools: OpenAI.Responses.Tool[];

interface ElicitationRequest {
  type: 'mcp_elicitation_request';
  id: string;
  server_label: string;
  mcp_call_id: string;
  name: string;
  message: string;
  requested_schema: Record<string, unknown>;
}

beforeAll(async () => {
  server = await startElicitMcpServer();
  spool = await startTestSpool({
    name: 'mcp-elicitation',
    env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' },
    file: {
      api_keys: ['key-a', 'key-b'],
      admin_keys: ['admin-key'],
      limits: { mcp_tool_list_cache_seconds: 0 },
      mcp_servers: { short: { url: server.url, transport: 'streamable-http', elicitation_timeout_ms: 1000 } },
    },
    apiKey: 'key-a',
  });
  tools = [{ type: 'mcp', server_label: 'e', server_url: server.url, require_approval: 'never' }];
}, 60_000);

afterAll(async () => {
  await spool?.close();
  await server?.close();
});

const requestsOf = (r: OpenAI.Responses.Response) => r.output.filter((i) => (i.type as string) === 'mcp_elicitation_request') as unknown as ElicitationRequest[];
const answer = (previous: string, item: Record<string, unknown>, client: OpenAI = spool.client) =>
  client.responses.create({ model: 'm', previous_response_id: previous, tools, input: [{ type: 'mcp_elicitation_response', ...item } as unknown as OpenAI.Responses.ResponseInputItem] });

/** The console's list of questions waiting for an answer. */
const overview = async () =>
  ((await (await fetch(`${spool.url}/console/api/overview`, { headers: { authorization: 'Bearer admin-key' } })).json()) as { elicitations: Array<Record<string, unknown>> }).elicitations;

async function park(tool = 'deploy', t: OpenAI.Responses.Tool[] = tools, label = 'e') {
  const runsBefore = server.runs.length;
  const first = await spool.client.responses.create({ model: 'm', input: `!call ${label}__${tool} {}`, tools: t });
  expect(first.status).toBe('completed');
  const [req] = requestsOf(first);
  expect(req).toBeDefined();
  expect(server.runs.length).toBe(runsBefore + 1);
  return { first, req: req!, run: server.runs[runsBefore]! };
}

async function expect400(p: Promise<unknown>, code: string, param?: string): Promise<APIError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(APIError);
  const e = err as APIError;
  expect(e.status).toBe(400);
  expect(e.code).toBe(code);
  if (param) expect(e.param).toBe(param);
  return e;
}

describe('a call parked on an elicitation', () => {
  it('ends the response completed with the question; an accepted answer resumes the same call, which runs once and gets the content', async () => {
    const { first, req, run } = await park();
    expect(first.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_call', 'mcp_elicitation_request', 'message']);
    const call = first.output[1] as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call).toMatchObject({ status: 'incomplete', error: null, name: 'deploy' });
    expect(call.output).toContain('[waiting for the user] The tool asked the user: "Where should I deploy?"');
    expect(req).toMatchObject({ server_label: 'e', name: 'deploy', mcp_call_id: call.id, message: 'Where should I deploy?' });
    expect(req.id).toMatch(/^mcpe_[0-9a-f]{48}$/);
    expect(req.requested_schema).toMatchObject({ properties: { env: { enum: ['staging', 'production'] } }, required: ['env'] });
    // A client that does not know the item still has text to show, saying how to answer.
    expect(first.output_text).toContain("The tool 'deploy' on MCP server 'e' is waiting for an answer: \"Where should I deploy?\"");
    expect(first.output_text).toContain(req.id);
    expect(first.output_text).toContain('env (one of "staging", "production", required)');
    // Polling shows the same; the tool is still waiting, and the console lists the question.
    expect(requestsOf(await spool.client.responses.retrieve(first.id))).toEqual([req]);
    expect(run.finished).toBe(false);
    expect((await overview()).find((e) => e.elicitation_request_id === req.id)).toMatchObject({
      response_id: first.id,
      server_label: 'e',
      name: 'deploy',
      message: 'Where should I deploy?',
      fields: ['env', 'replicas'],
    });

    const upstreamBefore = spool.upstream.requests.length;
    const second = await answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { env: 'staging', replicas: 3 } });
    expect(second.status).toBe('completed');
    expect(second.output.map((i) => i.type)).toEqual(['mcp_call', 'message']);
    expect(second.output[0]).toMatchObject({ type: 'mcp_call', name: 'deploy', status: 'completed', output: 'Deployed to staging with 3 replicas', error: null });
    expect(run.answers).toEqual([{ action: 'accept', content: { env: 'staging', replicas: 3 } }]);
    expect(run.finished).toBe(true);
    expect(server.runs.filter((r) => r === run)).toHaveLength(1);
    // One model call, after the result: the call itself was not re-inferred.
    expect(spool.upstream.requests.length).toBe(upstreamBefore + 1);
    expect(second.output_text).toContain('Deployed to staging with 3 replicas');
    expect((await overview()).find((e) => e.elicitation_request_id === req.id)).toBeUndefined();
  });

  it('streams the question through the SDK helper, which keeps the extension item in its final response', async () => {
    const stream = spool.client.responses.stream({ model: 'm', input: '!call e__deploy {}', tools });
    const types: string[] = [];
    for await (const event of stream) if (event.type === 'response.output_item.added') types.push(event.item.type);
    const final = await stream.finalResponse();
    expect(types).toEqual(['mcp_list_tools', 'mcp_call', 'mcp_elicitation_request', 'message']);
    const [req] = requestsOf(final);
    expect(req?.message).toBe('Where should I deploy?');
    const done = await answer(final.id, { elicitation_request_id: req!.id, action: 'cancel' });
    expect(done.output[0]).toMatchObject({ output: 'Not deployed (cancel)' });
  });

  it('passes a decline to the tool, which goes on without an answer', async () => {
    const { first, req, run } = await park();
    const second = await answer(first.id, { elicitation_request_id: req.id, action: 'decline' });
    expect(second.output[0]).toMatchObject({ type: 'mcp_call', status: 'completed', output: 'Not deployed (decline)' });
    expect(run.answers).toEqual([{ action: 'decline' }]);
  });

  it('parks again on a second question, and the last answer finishes the one run', async () => {
    const { first, req } = await park('survey');
    expect(req.message).toBe('What is your name?');
    const second = await answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { name: 'Ann' } });
    expect(second.status).toBe('completed');
    const [again] = requestsOf(second);
    expect(again).toMatchObject({ message: 'Do you like tea?', mcp_call_id: second.output[0]!.id });
    const third = await answer(second.id, { elicitation_request_id: again!.id, action: 'accept', content: { tea: true } });
    expect(third.output[0]).toMatchObject({ type: 'mcp_call', name: 'survey', status: 'completed', output: 'Ann likes tea' });
    expect(server.runs.filter((r) => r.tool === 'survey')).toHaveLength(1);
  });
});

describe('answers that are refused', () => {
  it('refuses a replayed answer, a made-up id and an answer that does not fit the form, with 400s', async () => {
    const { first, req } = await park();
    await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { env: 'moon' } }), 'invalid_value', 'input[0].content');
    await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { replicas: 2 } }), 'invalid_value', 'input[0].content');
    await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { env: 'staging', replicas: 11 } }), 'invalid_value', 'input[0].content');
    await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { env: 'staging', color: 'red' } }), 'invalid_value', 'input[0].content');
    await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'decline', content: { env: 'staging' } }), 'invalid_value', 'input[0].content');
    const forged = `mcpe_${'0'.repeat(48)}`;
    await expect400(answer(first.id, { elicitation_request_id: forged, action: 'accept', content: { env: 'staging' } }), 'elicitation_request_not_found', 'input[0].elicitation_request_id');
    await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'sure' }), 'invalid_value');
    // Refusals claimed nothing: the real answer still works, once.
    const ok = await answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { env: 'production' } });
    expect(ok.output[0]).toMatchObject({ status: 'completed', output: 'Deployed to production with 1 replicas' });
    const replay = await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { env: 'staging' } }), 'elicitation_already_used');
    expect(replay.message).toContain(ok.id);
  });

  it('another API key cannot answer: the response and the question do not exist for it', async () => {
    const { first, req, run } = await park();
    const other = spool.clientWith('key-b');
    const err = await answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { env: 'staging' } }, other).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'previous_response_not_found' });
    const noChain = await other.responses
      .create({
        model: 'm',
        tools,
        input: [{ type: 'mcp_elicitation_response', elicitation_request_id: req.id, action: 'accept', content: { env: 'staging' } } as unknown as OpenAI.Responses.ResponseInputItem],
      })
      .catch((e: unknown) => e);
    expect((noChain as APIError).status).toBe(400);
    expect(run.answers).toEqual([]);
    // The owner still can.
    const ok = await answer(first.id, { elicitation_request_id: req.id, action: 'cancel' });
    expect(ok.output[0]).toMatchObject({ output: 'Not deployed (cancel)' });
  });

  it('gives up after elicitation_timeout_ms: the tool is told "cancel", and a late answer is a 400 saying why', async () => {
    const shortTools: OpenAI.Responses.Tool[] = [{ type: 'mcp', server_label: 'short', require_approval: 'never' }];
    const { first, req, run } = await park('deploy', shortTools, 'short');
    await until(async () => run.finished, 10_000, 50);
    expect(run.answers).toEqual([{ action: 'cancel' }]);
    const late = await expect400(
      spool.client.responses.create({
        model: 'm',
        previous_response_id: first.id,
        tools: shortTools,
        input: [{ type: 'mcp_elicitation_response', elicitation_request_id: req.id, action: 'accept', content: { env: 'staging' } } as unknown as OpenAI.Responses.ResponseInputItem],
      }),
      'elicitation_expired',
    );
    expect(late.message).toContain('elicitation_timeout_ms');
  });
});

describe('a server that stops waiting', () => {
  it('ends the held call with its own result, and a late answer is refused with it', async () => {
    const { first, req, run } = await park('impatient');
    await until(async () => run.finished, 10_000, 50);
    // The holder has seen the call end once the question leaves the console's list.
    await until(async () => !(await overview()).some((e) => e.elicitation_request_id === req.id), 10_000, 50);
    const late = await expect400(answer(first.id, { elicitation_request_id: req.id, action: 'accept', content: { yes: true } }), 'elicitation_expired');
    expect(late.message).toContain('the tool stopped waiting for it and finished: Gave up waiting for the user');
  });
});

describe('an executor that shuts down while it holds a call', () => {
  it('tells the tool "cancel" and a later answer gets a 400 saying why', async () => {
    const prefix = `${uniquePrefix('mcp-elicitation-stop')}:`;
    const file = { limits: { mcp_tool_list_cache_seconds: 0 } };
    const a = await startTestSpool({ name: 'mcp-elicitation-stop', prefix, keepData: true, env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' }, file });
    const runsBefore = server.runs.length;
    const first = await a.client.responses.create({ model: 'm', input: '!call e__deploy {}', tools });
    const [req] = requestsOf(first);
    await a.close();
    expect(server.runs[runsBefore]).toMatchObject({ answers: [{ action: 'cancel' }], finished: true });
    const b = await startTestSpool({ name: 'mcp-elicitation-stop', prefix, env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' }, file });
    try {
      const late = await expect400(answer(first.id, { elicitation_request_id: req!.id, action: 'accept', content: { env: 'staging' } }, b.client), 'elicitation_expired');
      expect(late.message).toContain('shut down before the user answered');
    } finally {
      await b.close();
    }
  });
});

describe('where a call cannot park', () => {
  it('declines for a store: false response (nothing can continue it) and tells the model', async () => {
    const runsBefore = server.runs.length;
    const r = await spool.client.responses.create({ model: 'm', input: '!call e__deploy {}', tools, store: false });
    expect(r.status).toBe('completed');
    expect(requestsOf(r)).toEqual([]);
    expect(r.output.find((i) => i.type === 'mcp_call')).toMatchObject({
      status: 'completed',
      output: expect.stringContaining('Not deployed (decline)\n[elicitation declined] The tool asked the user: "Where should I deploy?".') as unknown as string,
    });
    expect(server.runs[runsBefore]?.answers).toEqual([{ action: 'decline' }]);
  });
});

describe('the executor holding a parked call dies', () => {
  const prefix = `${uniquePrefix('mcp-elicitation-kill')}:`;
  const procs: SpoolProcess[] = [];
  afterAll(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
    await deleteByPrefix(testRedisUrl(), prefix);
  });

  it('the answer fails the call clearly on the follow-up instead of hanging', async () => {
    const env = { REDIS_URL: testRedisUrl(), SPOOL_PREFIX: prefix, UPSTREAM_BASE_URL: spool.upstream.url, UPSTREAM_API_KEY: 'k', SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' };
    const [api, llm, executorA] = await Promise.all([startSpoolProcess(env, 'api'), startSpoolProcess(env, 'llm'), startSpoolProcess(env, 'mcp')]);
    procs.push(api!, llm!, executorA!);
    const client = new OpenAI({ baseURL: `${api!.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60_000 });
    const first = await client.responses.create({ model: 'm', input: '!call e__deploy {}', tools });
    const [req] = requestsOf(first);
    expect(req).toBeDefined();
    await executorA!.kill('SIGKILL');
    const executorB = await startSpoolProcess(env, 'mcp');
    procs.push(executorB);
    const started = Date.now();
    const second = await answer(first.id, { elicitation_request_id: req!.id, action: 'accept', content: { env: 'staging' } }, client);
    expect(second.status).toBe('completed');
    expect(second.output[0]).toMatchObject({
      type: 'mcp_call',
      name: 'deploy',
      status: 'failed',
      error: { type: 'mcp_protocol_error', message: expect.stringContaining('The executor that held this tool call open stopped') as unknown as string },
    });
    // Bounded by the holder lease (10 s), not by any call timeout.
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 90_000);
});
