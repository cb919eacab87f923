import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMcpServer, type TestMcpServer } from '@spool/testkit';
import { deleteTestData, startTestSpool, type TestSpool } from './support/spool.ts';

/** Approvals park the call until a matching mcp_approval_response arrives, and run it exactly once. */
let spool: TestSpool;
let client: OpenAI;
let server: TestMcpServer;
let tools: OpenAI.Responses.Tool[];

beforeAll(async () => {
  server = await startTestMcpServer({});
  spool = await startTestSpool({ name: 'approvals', env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' }, file: { api_keys: ['key-a', 'key-b'] }, apiKey: 'key-a' });
  client = spool.client;
  tools = [{ type: 'mcp', server_label: 't', server_url: server.url }];
});
afterAll(async () => {
  await spool?.close();
  await server?.close();
});

const callsOf = (name: string) => server.calls.filter((c) => c.name === name).length;

async function askForApproval(input = '!call t__delete_thing {"id":"42"}', c = client) {
  const first = await c.responses.create({ model: 'm', input, tools });
  expect(first.status).toBe('completed');
  const requests = first.output.filter((i): i is OpenAI.Responses.ResponseOutputItem.McpApprovalRequest => i.type === 'mcp_approval_request');
  return { first, requests };
}

describe('approval requests', () => {
  it('parks the call (visible by polling), then runs it once on approval with no new inference', async () => {
    const before = callsOf('delete_thing');
    const { first, requests } = await askForApproval();
    expect(first.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_approval_request']);
    expect(requests[0]).toMatchObject({ server_label: 't', name: 'delete_thing', arguments: '{"id":"42"}' });
    expect(callsOf('delete_thing')).toBe(before);
    expect((await client.responses.retrieve(first.id)).output[1]).toEqual(requests[0]);

    const upstreamBefore = spool.upstream.requests.length;
    const second = await client.responses.create({
      model: 'm',
      previous_response_id: first.id,
      tools,
      input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: true }],
    });
    expect(second.output.map((i) => i.type)).toEqual(['mcp_call', 'message']);
    expect(second.output[0]).toMatchObject({ type: 'mcp_call', name: 'delete_thing', approval_request_id: requests[0]!.id, status: 'completed' });
    expect(callsOf('delete_thing')).toBe(before + 1);
    // One model call, after the tool ran, to answer from its result: the call itself was not re-inferred.
    expect(spool.upstream.requests.length).toBe(upstreamBefore + 1);
    expect(second.output_text).toContain('Tool results:');
  });

  it('runs nothing on a denial and tells the model why', async () => {
    const before = callsOf('delete_thing');
    const { first, requests } = await askForApproval();
    const second = await client.responses.create({
      model: 'm',
      previous_response_id: first.id,
      tools,
      input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: false, reason: 'not today' } as OpenAI.Responses.ResponseInputItem],
    });
    expect(callsOf('delete_thing')).toBe(before);
    expect(second.output.map((i) => i.type)).toEqual(['message']);
    expect(second.output_text).toBe('Tool results: The user denied this tool call; it was not run. Reason: not today');
  });

  it('handles mixed parallel calls: one approved, one denied, one needing none', async () => {
    const policyTools: OpenAI.Responses.Tool[] = [{ type: 'mcp', server_label: 't', server_url: server.url, require_approval: { never: { read_only: true } } }];
    const echoBefore = callsOf('echo');
    const delBefore = callsOf('delete_thing');
    const idemBefore = callsOf('idempotent_thing');
    const first = await client.responses.create({
      model: 'm',
      tools: policyTools,
      input: '!call t__echo {"message":"free"}\n!call t__delete_thing {"id":"1"}\n!call t__idempotent_thing {}',
    });
    expect(first.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_call', 'mcp_approval_request', 'mcp_approval_request', 'message']);
    expect(callsOf('echo')).toBe(echoBefore + 1);
    const [del, idem] = first.output.filter((i): i is OpenAI.Responses.ResponseOutputItem.McpApprovalRequest => i.type === 'mcp_approval_request');
    const stream = client.responses.stream({
      model: 'm',
      previous_response_id: first.id,
      tools: policyTools,
      input: [
        { type: 'mcp_approval_response', approval_request_id: del!.id, approve: true },
        { type: 'mcp_approval_response', approval_request_id: idem!.id, approve: false },
      ],
    });
    for await (const _ of stream) void _;
    const second = await stream.finalResponse();
    expect(second.output.map((i) => i.type)).toEqual(['mcp_call', 'message']);
    expect(callsOf('delete_thing')).toBe(delBefore + 1);
    expect(callsOf('idempotent_thing')).toBe(idemBefore);
  });

  it('lets exactly one of two concurrent follow-ups use an approval', async () => {
    const before = callsOf('delete_thing');
    const { first, requests } = await askForApproval();
    const follow = () =>
      client.responses.create({ model: 'm', previous_response_id: first.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: true }] }).then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
    const results = await Promise.all([follow(), follow(), follow()]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok)) expect((r as { e: unknown }).e).toMatchObject({ status: 400, code: 'approval_already_used' });
    expect(callsOf('delete_thing')).toBe(before + 1);
  });

  it('refuses unknown ids, foreign responses and missing servers with a clear 400', async () => {
    const { first, requests } = await askForApproval();
    const unknown = await client.responses
      .create({ model: 'm', previous_response_id: first.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: 'mcpr_nope', approve: true }] })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 400, code: 'approval_request_not_found' });
    const foreign = await spool
      .clientWith('key-b')
      .responses.create({ model: 'm', previous_response_id: first.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: true }] })
      .catch((e: unknown) => e);
    expect(foreign).toMatchObject({ status: 400, code: 'previous_response_not_found' });
    const noTools = await client.responses
      .create({ model: 'm', previous_response_id: first.id, input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: true }] })
      .catch((e: unknown) => e);
    expect(noTools).toMatchObject({ status: 400, code: 'approval_server_mismatch' });
    // Refusals do not use the approval up.
    const ok = await client.responses.create({ model: 'm', previous_response_id: first.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: true }] });
    expect(ok.output[0]).toMatchObject({ type: 'mcp_call', status: 'completed' });
  });

  it('runs a stateless approval (store: false) from the request item passed back in input', async () => {
    const before = callsOf('delete_thing');
    const first = await client.responses.create({ model: 'm', input: '!call t__delete_thing {"id":"s"}', tools, store: false });
    const req = first.output.find((i) => i.type === 'mcp_approval_request') as OpenAI.Responses.ResponseOutputItem.McpApprovalRequest;
    const list = first.output.find((i) => i.type === 'mcp_list_tools')!;
    const second = await client.responses.create({
      model: 'm',
      store: false,
      tools,
      input: [list as OpenAI.Responses.ResponseInputItem, req as OpenAI.Responses.ResponseInputItem, { type: 'mcp_approval_response', approval_request_id: req.id, approve: true }],
    });
    expect(second.output[0]).toMatchObject({ type: 'mcp_call', approval_request_id: req.id, status: 'completed' });
    expect(callsOf('delete_thing')).toBe(before + 1);
  });
});

describe('parked state outlives processes and expires with the response', () => {
  it('resumes after every Spool process restarted between request and approval', async () => {
    const first = await startTestSpool({ name: 'restart', env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' }, keepData: true });
    const { first: r1, requests } = await askForApproval(undefined, first.client);
    await first.close();
    const second = await startTestSpool({ prefix: first.prefix, env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' } });
    try {
      const r2 = await second.client.responses.create({
        model: 'm',
        previous_response_id: r1.id,
        tools,
        input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: true }],
      });
      expect(r2.output[0]).toMatchObject({ type: 'mcp_call', status: 'completed', approval_request_id: requests[0]!.id });
    } finally {
      await second.close();
    }
  });

  it('refuses an approval after the retention has passed, and runs nothing', async () => {
    const short = await startTestSpool({ name: 'expiry', env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' }, file: { limits: { retention_seconds: 1 } } });
    try {
      const before = callsOf('delete_thing');
      const { first, requests } = await askForApproval(undefined, short.client);
      await new Promise((r) => setTimeout(r, 2100));
      const err = await short.client.responses
        .create({ model: 'm', previous_response_id: first.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: requests[0]!.id, approve: true }] })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 400 });
      expect(callsOf('delete_thing')).toBe(before);
    } finally {
      await short.close();
      await deleteTestData(short.redisTarget, short.prefix);
    }
  });
});
