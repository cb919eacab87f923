import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEverything, startTestMcpServer, type EverythingServer, type TestMcpServer } from '@spool/testkit';
import { keysUnder, startTestSpool, until, type TestSpool } from './support/spool.ts';

/**
 * MCP tools end to end: real MCP servers (server-everything over Streamable HTTP, SSE and stdio,
 * and small SDK servers), tool calls run by the MCP executor role through the queues.
 */
let spool: TestSpool;
let client: OpenAI;
let everythingHttp: EverythingServer;
let everythingSse: EverythingServer;
let authServer: TestMcpServer;
let testServer: TestMcpServer;
const SECRET = 'Bearer s3cret-token-value';

beforeAll(async () => {
  [everythingHttp, everythingSse, authServer, testServer] = await Promise.all([
    startEverything('streamable-http'),
    startEverything('sse'),
    startTestMcpServer({ requireAuth: SECRET }),
    startTestMcpServer({}),
  ]);
  const stdio = (await startEverything('stdio')).stdio!;
  spool = await startTestSpool({
    name: 'mcp',
    env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1,localhost' },
    file: {
      mcp_servers: {
        everything: { command: stdio.command, args: stdio.args, env: stdio.env },
        guarded: { url: authServer.url, transport: 'streamable-http' },
      },
    },
  });
  client = spool.client;
}, 120_000);

afterAll(async () => {
  await spool?.close();
  await Promise.all([everythingHttp?.close(), everythingSse?.close(), authServer?.close(), testServer?.close()]);
});

const never = { require_approval: 'never' as const };

/** How a response with one MCP server opens: its lifecycle, then the tool list item, opened and closed. */
const LISTED_OPENING = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.mcp_list_tools.in_progress',
  'response.mcp_list_tools.completed',
  'response.output_item.done',
];

function byType(r: OpenAI.Responses.Response) {
  return r.output.map((i) => i.type);
}

describe('MCP tool calls', () => {
  for (const mode of [
    { stream: false, background: false },
    { stream: true, background: false },
    { stream: false, background: true },
    { stream: true, background: true },
  ]) {
    it(`lists, calls and answers from the result (stream=${mode.stream}, background=${mode.background})`, async () => {
      const params = {
        model: 'm',
        input: '!call everything__echo {"message":"hello mcp"}',
        tools: [{ type: 'mcp' as const, server_label: 'everything', server_url: everythingHttp.url!, ...never }],
      };
      let final: OpenAI.Responses.Response;
      if (mode.stream) {
        const stream = client.responses.stream({ ...params, background: mode.background });
        const seqs: number[] = [];
        for await (const e of stream) seqs.push(e.sequence_number);
        expect(seqs).toEqual(seqs.map((_, i) => i));
        final = await stream.finalResponse();
      } else {
        final = await client.responses.create({ ...params, background: mode.background });
        if (mode.background) {
          for (let i = 0; i < 200 && (final.status === 'queued' || final.status === 'in_progress'); i++) {
            await new Promise((r) => setTimeout(r, 25));
            final = await client.responses.retrieve(final.id);
          }
        }
      }
      expect(final.status).toBe('completed');
      expect(byType(final)).toEqual(['mcp_list_tools', 'mcp_call', 'message']);
      const list = final.output[0] as OpenAI.Responses.ResponseOutputItem.McpListTools;
      expect(list.tools.map((t) => t.name)).toContain('echo');
      const call = final.output[1] as OpenAI.Responses.ResponseOutputItem.McpCall;
      expect(call).toMatchObject({ server_label: 'everything', name: 'echo', arguments: '{"message":"hello mcp"}', status: 'completed', error: null });
      expect(call.output).toContain('hello mcp');
      expect(final.output_text).toBe(`Tool results: ${call.output}`);
      // Echoed tools keep no path (and no credentials).
      expect(final.tools[0]).toMatchObject({ type: 'mcp', server_url: new URL(everythingHttp.url!).origin });
    });
  }

  it('emits the checklist event order for list + call', async () => {
    const stream = client.responses.stream({
      model: 'm',
      input: '!call everything__get-sum {"a":2,"b":3}',
      tools: [{ type: 'mcp', server_label: 'everything', server_url: everythingHttp.url!, ...never }],
    });
    const types: string[] = [];
    for await (const e of stream) if (!(e.type.endsWith('.delta') && types.at(-1) === e.type)) types.push(e.type);
    expect(types.slice(0, 12)).toEqual([
      ...LISTED_OPENING,
      'response.output_item.added',
      'response.mcp_call_arguments.delta',
      'response.mcp_call_arguments.done',
      'response.mcp_call.in_progress',
      'response.mcp_call.completed',
      'response.output_item.done',
    ]);
    expect(types.filter((t) => t === 'response.created')).toHaveLength(1);
    expect(types.at(-1)).toBe('response.completed');
    const final = await stream.finalResponse();
    expect((final.output[1] as { output: string }).output).toContain('5');
  });

  it('reaches servers over HTTP+SSE and configured stdio servers by label or litellm_proxy', async () => {
    const sse = await client.responses.create({
      model: 'm',
      input: '!call sse__echo {"message":"via sse"}',
      tools: [{ type: 'mcp', server_label: 'sse', server_url: everythingSse.url!, ...never }],
    });
    expect(sse.output[1]).toMatchObject({ type: 'mcp_call', status: 'completed' });
    for (const server_url of [undefined, 'litellm_proxy']) {
      const r = await client.responses.create({
        model: 'm',
        input: '!call everything__echo {"message":"via stdio"}',
        tools: [{ type: 'mcp', server_label: 'everything', ...(server_url ? { server_url } : {}), ...never } as OpenAI.Responses.Tool],
      });
      expect(r.output[1]).toMatchObject({ type: 'mcp_call', status: 'completed' });
      expect((r.output[1] as { output: string }).output).toContain('via stdio');
    }
  });

  it('runs parallel calls of one turn, and reuses the tool list through previous_response_id', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'mcp', server_label: 't', server_url: testServer.url, ...never }];
    const first = await client.responses.create({ model: 'm', input: '!call t__echo {"message":"a"}\n!call t__add {"a":1,"b":2}', tools });
    expect(byType(first)).toEqual(['mcp_list_tools', 'mcp_call', 'mcp_call', 'message']);
    expect(first.output_text).toBe('Tool results: Echo: a | 3');
    const before = testServer.requests.length;
    const second = await client.responses.create({ model: 'm', input: '!call t__echo {"message":"b"}', tools, previous_response_id: first.id });
    expect(byType(second)).toEqual(['mcp_call', 'message']);
    expect(testServer.calls.at(-1)).toMatchObject({ name: 'echo', args: { message: 'b' } });
    expect(testServer.requests.slice(before).length).toBeGreaterThan(0);
  });

  it('applies allowed_tools in list and filter forms', async () => {
    const listed = await client.responses.create({
      model: 'm',
      input: 'hi',
      tools: [{ type: 'mcp', server_label: 't', server_url: testServer.url, allowed_tools: ['add'], ...never }],
    });
    expect((listed.output[0] as OpenAI.Responses.ResponseOutputItem.McpListTools).tools.map((t) => t.name)).toEqual(['add']);
    const filtered = await client.responses.create({
      model: 'm',
      input: 'hi',
      tools: [{ type: 'mcp', server_label: 't', server_url: testServer.url, allowed_tools: { read_only: true }, ...never }],
    });
    expect((filtered.output[0] as OpenAI.Responses.ResponseOutputItem.McpListTools).tools.map((t) => t.name).sort()).toEqual(['add', 'echo']);
    const sent = spool.upstream.requests.at(-1)?.tools as Array<{ function: { name: string } }>;
    expect(sent.map((t) => t.function.name).sort()).toEqual(['t__add', 't__echo']);
  });

  it('turns a failing tool into a failed mcp_call the model is told about', async () => {
    const r = await client.responses.create({
      model: 'm',
      input: '!call t__crash {}',
      tools: [{ type: 'mcp', server_label: 't', server_url: testServer.url, ...never }],
    });
    expect(r.status).toBe('completed');
    const call = r.output[1] as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call.status).toBe('failed');
    expect(call.error).toMatchObject({ type: 'mcp_tool_execution_error' });
    expect(r.output_text).toMatch(/^Tool results: Error: /);
  });

  it('does not run calls that need approval (omitted require_approval means always)', async () => {
    const calls = testServer.calls.length;
    const r = await client.responses.create({
      model: 'm',
      input: '!call t__delete_thing {"id":"x"}',
      tools: [{ type: 'mcp', server_label: 't', server_url: testServer.url }],
    });
    expect(r.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'mcp_approval_request']);
    expect(testServer.calls.length).toBe(calls);
  });

  it('aborts a running MCP call when the response is cancelled, and the server hears notifications/cancelled', async () => {
    const r = await client.responses.create({
      model: 'm',
      input: '!call t__slow {"ms":20000}',
      tools: [{ type: 'mcp', server_label: 't', server_url: testServer.url, ...never }],
      background: true,
    });
    await until(async () => testServer.calls.some((c) => c.name === 'slow'));
    const cancelled = await client.responses.cancel(r.id);
    expect(cancelled.status).toBe('cancelled');
    await until(async () => testServer.cancellations.includes('slow'));
  });
});

describe('tool list reuse across responses', () => {
  it('lists a server once for the same credentials, with the same items and events, and again for others', async () => {
    const server = await startTestMcpServer({});
    try {
      const tools = (user: string): OpenAI.Responses.Tool[] => [{ type: 'mcp', server_label: 'c', server_url: server.url, headers: { 'x-user': user }, ...never }];
      const first = await client.responses.create({ model: 'm', input: '!call c__echo {"message":"1"}', tools: tools('alice') });
      expect(server.listings()).toBe(1);

      // The second response is served from the listing the first one made: no tools/list, and
      // a stream that the SDK's helper accepts, with the list item opened and closed as usual.
      const stream = client.responses.stream({ model: 'm', input: '!call c__echo {"message":"2"}', tools: tools('alice') });
      const types: string[] = [];
      for await (const e of stream) types.push(e.type);
      const second = await stream.finalResponse();
      expect(server.listings()).toBe(1);
      expect(types.slice(0, 6)).toEqual(LISTED_OPENING);
      expect(byType(second)).toEqual(['mcp_list_tools', 'mcp_call', 'message']);
      expect(second.output[0]).toMatchObject({ server_label: 'c', error: null, tools: (first.output[0] as OpenAI.Responses.ResponseOutputItem.McpListTools).tools });
      expect(second.output[1]).toMatchObject({ status: 'completed', output: 'Echo: 2' });

      // Other credentials are another caller: the server is asked again.
      await client.responses.create({ model: 'm', input: 'hi', tools: tools('bob') });
      expect(server.listings()).toBe(2);
    } finally {
      await server.close();
    }
  });
});

describe('MCP credentials and safety', () => {
  it('fails loudly on a rejected credential: 424 for a synchronous request, never an empty list', async () => {
    const err = await client.responses.create({ model: 'm', input: 'hi', tools: [{ type: 'mcp', server_label: 'a', server_url: authServer.url, ...never }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 424 });
    expect((err as Error).message).toContain('401');

    const stream = client.responses.stream({ model: 'm', input: 'hi', tools: [{ type: 'mcp', server_label: 'a', server_url: authServer.url, ...never }] });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    expect(types.slice(-3)).toEqual(['response.mcp_list_tools.failed', 'response.output_item.done', 'response.failed']);
  });

  it('forwards headers, the authorization field and LiteLLM x-mcp-<label>- headers', async () => {
    const viaHeaders = await client.responses.create({
      model: 'm',
      input: '!call a__echo {"message":"h"}',
      tools: [{ type: 'mcp', server_label: 'a', server_url: authServer.url, headers: { Authorization: SECRET }, ...never }],
    });
    expect(viaHeaders.output[1]).toMatchObject({ status: 'completed' });
    const viaToken = await client.responses.create({
      model: 'm',
      input: '!call a__echo {"message":"t"}',
      tools: [{ type: 'mcp', server_label: 'a', server_url: authServer.url, authorization: SECRET.slice('Bearer '.length), ...never } as OpenAI.Responses.Tool],
    });
    expect(viaToken.output[1]).toMatchObject({ status: 'completed' });
    const viaLiteLlm = await client.responses.create({
      model: 'm',
      input: '!call guarded__echo {"message":"l"}',
      tools: [{ type: 'mcp', server_label: 'guarded', server_url: 'litellm_proxy', headers: { 'x-mcp-guarded-authorization': SECRET, 'x-litellm-api-key': 'sk-x' }, ...never }],
    });
    expect(viaLiteLlm.output[1]).toMatchObject({ status: 'completed' });
    expect(authServer.requests.some((r) => 'x-litellm-api-key' in r.headers)).toBe(false);
  });

  it('keeps credentials out of every Redis key once the response is done', async () => {
    await client.responses.create({
      model: 'm',
      input: '!call a__echo {"message":"s"}',
      tools: [{ type: 'mcp', server_label: 'a', server_url: authServer.url, headers: { Authorization: SECRET }, ...never }],
    });
    const redis = spool.connectRedis();
    try {
      const dump: string[] = [];
      {
        for (const key of await keysUnder(redis, spool.prefix)) {
          const type = await redis.type(key);
          if (type === 'hash') dump.push(JSON.stringify(await redis.hgetall(key)));
          else if (type === 'stream') dump.push(JSON.stringify(await redis.xrange(key, '-', '+')));
          else if (type === 'string') dump.push((await redis.get(key)) ?? '');
          else if (type === 'list') dump.push(JSON.stringify(await redis.lrange(key, 0, -1)));
          else if (type === 'zset') dump.push(JSON.stringify(await redis.zrange(key, 0, -1)));
        }
      }
      expect(dump.length).toBeGreaterThan(0);
      expect(dump.join('\n')).not.toContain('s3cret-token-value');
    } finally {
      redis.disconnect();
    }
  });
});

describe('SSRF guard', () => {
  it('refuses loopback server_urls before connecting unless allowed', async () => {
    const guarded = await startTestSpool({ name: 'ssrf' });
    try {
      const before = testServer.requests.length;
      const err = await guarded.client.responses.create({ model: 'm', input: 'hi', tools: [{ type: 'mcp', server_label: 't', server_url: testServer.url, ...never }] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 424 });
      expect((err as Error).message).toMatch(/not allowed|loopback|private/i);
      expect(testServer.requests.length).toBe(before);
    } finally {
      await guarded.close();
    }
  });
});
