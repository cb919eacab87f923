import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsBase, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpFunctionName as workerFunctionName } from '@spool/llm-worker';
import { ChatCompletionChunkSchema, ChatCompletionSchema, mcpFunctionName, type ChatMcpFields } from '@spool/protocol';
import { uniquePrefix, startTestMcpServer, type TestMcpServer } from '@spool/testkit';
import { readSse, startTestSpool, type TestSpool } from './support/spool.ts';

/**
 * `/v1/chat/completions` end to end, through the official `openai` client: MCP tools listed and
 * called by the MCP executor through the queues, against a real MCP server, with the scripted
 * upstream as the model; and the same endpoint without MCP tools (pass-through).
 */
let spool: TestSpool;
let client: OpenAI;
let server: TestMcpServer;
let guarded: TestMcpServer;
const SECRET = 'Bearer chat-s3cret';

beforeAll(async () => {
  [server, guarded] = await Promise.all([startTestMcpServer({}), startTestMcpServer({ requireAuth: SECRET })]);
  spool = await startTestSpool({ name: 'chat', env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1,localhost' } });
  client = spool.client;
}, 60_000);

afterAll(async () => {
  await spool?.close();
  await Promise.all([server?.close(), guarded?.close()]);
});

/** LiteLLM's MCP tool entry; the SDK's types know only function tools. */
const mcpTool = (extra: Record<string, unknown> = {}) => ({ type: 'mcp', server_label: 't', server_url: server.url, require_approval: 'never', ...extra }) as unknown as ChatCompletionTool;
const user = (content: string): ChatCompletionMessageParam[] => [{ role: 'user', content }];

interface Outcome {
  id: string;
  content: string | null;
  finish: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  fields: ChatMcpFields | undefined;
  message: ChatCompletion['choices'][number]['message'];
}

/**
 * Runs one request with or without `stream` and reads the answer the way a client would. The
 * streamed answer is checked for being one valid stream on the way: one id, the role first, one
 * finish_reason on the last choice chunk, every chunk valid, the usage chunk last.
 */
async function complete(params: Omit<ChatCompletionCreateParamsBase, 'stream'> & Record<string, unknown>, stream: boolean): Promise<Outcome> {
  if (!stream) {
    const c = await client.chat.completions.create({ ...params, stream: false } as ChatCompletionCreateParamsBase & { stream: false });
    ChatCompletionSchema.parse(c);
    expect(c).toMatchObject({ object: 'chat.completion', model: params.model });
    const choice = c.choices[0]!;
    const message = choice.message as ChatCompletion['choices'][number]['message'] & { provider_specific_fields?: ChatMcpFields };
    return {
      id: c.id,
      content: message.content,
      finish: choice.finish_reason,
      toolCalls: (message.tool_calls ?? []).map((t) => ({
        id: t.id,
        name: (t as { function: { name: string } }).function.name,
        arguments: (t as { function: { arguments: string } }).function.arguments,
      })),
      fields: message.provider_specific_fields,
      message,
    };
  }
  const chunks: ChatCompletionChunk[] = [];
  const s = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } } as ChatCompletionCreateParamsBase & { stream: true });
  for await (const chunk of s) chunks.push(chunk);
  for (const c of chunks) ChatCompletionChunkSchema.parse(c);
  expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
  const withChoice = chunks.filter((c) => c.choices.length > 0);
  const finishes = withChoice.filter((c) => c.choices[0]!.finish_reason !== null);
  expect(finishes).toHaveLength(1);
  expect(finishes[0]).toBe(withChoice.at(-1));
  const usage = chunks.at(-1)!;
  expect(usage.choices).toEqual([]);
  expect(usage.usage?.total_tokens).toBeGreaterThan(0);

  let content = '';
  const calls: Outcome['toolCalls'] = [];
  for (const c of withChoice) {
    const d = c.choices[0]!.delta;
    content += d.content ?? '';
    for (const t of d.tool_calls ?? []) {
      const at = (calls[t.index] ??= { id: '', name: '', arguments: '' });
      if (t.id) at.id = t.id;
      if (t.function?.name) at.name = t.function.name;
      at.arguments += t.function?.arguments ?? '';
    }
  }
  const first = chunks[0]!.choices[0]!.delta as { provider_specific_fields?: ChatMcpFields };
  const last = finishes[0]!.choices[0]!.delta as { provider_specific_fields?: ChatMcpFields };
  // LiteLLM's placement: the tool list on the first chunk, the whole report on the final one.
  if (last.provider_specific_fields?.mcp_list_tools) expect(first.provider_specific_fields?.mcp_list_tools).toEqual(last.provider_specific_fields.mcp_list_tools);
  return {
    id: chunks[0]!.id,
    content: content === '' && calls.length > 0 ? null : content,
    finish: finishes[0]!.choices[0]!.finish_reason!,
    toolCalls: calls,
    fields: last.provider_specific_fields,
    message: {
      role: 'assistant',
      content: content || null,
      refusal: null,
      ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) } : {}),
    },
  };
}

const callsOf = (name: string) => server.calls.filter((c) => c.name === name).length;

describe('MCP tools on /v1/chat/completions', () => {
  for (const stream of [false, true]) {
    describe(`stream=${stream}`, () => {
      it('lists, calls and answers in one request, reporting it as LiteLLM does', async () => {
        const before = callsOf('echo');
        const r = await complete({ model: 'm', messages: user('!call t__echo {"message":"hi"}'), tools: [mcpTool()] }, stream);
        expect(r.id).toMatch(/^chatcmpl-/);
        expect(r.finish).toBe('stop');
        expect(r.content).toBe('Tool results: Echo: hi');
        expect(r.toolCalls).toEqual([]);
        expect(callsOf('echo')).toBe(before + 1);
        const f = r.fields!;
        expect(f.mcp_list_tools?.map((t) => t.function.name)).toEqual(expect.arrayContaining(['t__echo', 't__add', 't__delete_thing']));
        expect(f.mcp_list_tools?.find((t) => t.function.name === 't__echo')).toMatchObject({
          type: 'function',
          function: { description: 'Echoes the message back', parameters: { type: 'object', properties: { message: { type: 'string' } } } },
        });
        expect(f.mcp_tool_calls).toEqual([{ id: expect.stringMatching(/^mcp_/), type: 'function', function: { name: 't__echo', arguments: '{"message":"hi"}' } }]);
        expect(f.mcp_call_results).toEqual([{ tool_call_id: f.mcp_tool_calls![0]!.id, name: 'echo', result: 'Echo: hi' }]);
        // Two model turns: the first was offered the MCP tools as functions, the second saw the result.
        const [offered, followUp] = spool.upstream.requests.slice(-2) as Array<{ tools?: Array<{ function: { name: string } }>; messages: Array<{ role: string }> }>;
        expect(offered!.tools!.map((t) => t.function.name)).toContain('t__echo');
        expect(followUp!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
      });

      it('runs parallel calls of one turn', async () => {
        const r = await complete({ model: 'm', messages: user('!call t__echo {"message":"a"}\n!call t__add {"a":1,"b":2}'), tools: [mcpTool()] }, stream);
        expect(r.content).toBe('Tool results: Echo: a | 3');
        expect(r.fields!.mcp_tool_calls!.map((c) => c.function.name)).toEqual(['t__echo', 't__add']);
        expect(r.fields!.mcp_call_results!.map((c) => [c.tool_call_id, c.result])).toEqual(r.fields!.mcp_tool_calls!.map((c, i) => [c.id, ['Echo: a', '3'][i]]));
      });

      it('reports a failing call and lets the model answer from the error', async () => {
        const r = await complete({ model: 'm', messages: user('!call t__crash {}'), tools: [mcpTool()] }, stream);
        expect(r.finish).toBe('stop');
        expect(r.content).toMatch(/^Tool results: Error: /);
        expect(r.fields!.mcp_call_results).toEqual([{ tool_call_id: r.fields!.mcp_tool_calls![0]!.id, name: 'crash', result: expect.stringMatching(/^Error: .*failed on purpose/) }]);
      });

      it('does not run a call that needs approval: the client gets the tool call and the pending approval', async () => {
        const before = callsOf('delete_thing');
        const r = await complete({ model: 'm', messages: user('!call t__delete_thing {"id":"42"}'), tools: [mcpTool({ require_approval: undefined })] }, stream);
        expect(r.finish).toBe('tool_calls');
        expect(r.toolCalls).toEqual([{ id: expect.stringMatching(/^mcpr_/), name: 't__delete_thing', arguments: '{"id":"42"}' }]);
        expect(r.fields!.mcp_approval_requests).toEqual([{ type: 'mcp_approval_request', id: r.toolCalls[0]!.id, server_label: 't', name: 'delete_thing', arguments: '{"id":"42"}' }]);
        expect(r.fields!.mcp_tool_calls).toBeUndefined();
        expect(callsOf('delete_thing')).toBe(before);
      });

      it('passes a request without MCP tools through to the routed upstream, function tools included', async () => {
        const plain = await complete({ model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, ...user('Say hi')] }, stream);
        expect(plain).toMatchObject({ content: 'Hello! You said: Say hi', finish: 'stop', toolCalls: [], fields: undefined });
        expect(spool.upstream.requests.at(-1)).toMatchObject({ model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user' }] });

        const weather: ChatCompletionTool = {
          type: 'function',
          function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
        };
        const asked = await complete({ model: 'm', messages: user('weather in Paris?'), tools: [weather], temperature: 0.2 }, stream);
        expect(asked.finish).toBe('tool_calls');
        expect(asked.content).toBeNull();
        expect(asked.toolCalls).toEqual([{ id: expect.any(String), name: 'get_weather', arguments: '{"city":"demo"}' }]);
        const sent = spool.upstream.requests.at(-1) as { tools: unknown[]; temperature: number };
        expect(sent.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: weather.function.parameters } }]);
        expect(sent.temperature).toBe(0.2);

        const answered = await complete(
          {
            model: 'm',
            tools: [weather],
            messages: [...user('weather in Paris?'), asked.message as ChatCompletionMessageParam, { role: 'tool', tool_call_id: asked.toolCalls[0]!.id, content: '18C and sunny' }],
          },
          stream,
        );
        expect(answered).toMatchObject({ content: 'Tool results: 18C and sunny', finish: 'stop' });

        const cut = await complete({ model: 'm', messages: user('!words 10'), max_tokens: 3 }, stream);
        expect(cut).toMatchObject({ content: 'w1 w2 w3 ', finish: 'length' });
      });
    });
  }

  it('frames the stream as Chat Completions: data-only frames, [DONE] last', async () => {
    const res = await fetch(`${spool.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
      body: JSON.stringify({ model: 'm', stream: true, messages: user('!call t__echo {"message":"raw"}'), tools: [mcpTool()] }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { frames, raw } = await readSse(res);
    expect(raw).not.toContain('\r');
    expect(frames.every((f) => f.event === null)).toBe(true);
    expect(frames.at(-1)!.data).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((f) => ChatCompletionChunkSchema.parse(JSON.parse(f.data)));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Tool results: Echo: raw');
  });

  it('runs an approved call once, with no new inference for it, when the client sends its approval', async () => {
    const tools = [mcpTool({ require_approval: 'always' })];
    const messages = user('!call t__delete_thing {"id":"7"}');
    const first = await client.chat.completions.create({ model: 'm', messages, tools });
    const pending = first.choices[0]!.message;
    const approvalId = pending.tool_calls![0]!.id;
    const before = callsOf('delete_thing');

    // The message goes back as the client got it (provider_specific_fields included), with the answer.
    const approved = await client.chat.completions.create({
      model: 'm',
      tools,
      messages: [...messages, pending as ChatCompletionMessageParam],
      mcp_approval_responses: [{ approval_request_id: approvalId, approve: true }],
      stream: false,
    } as ChatCompletionCreateParamsBase & { stream: false });
    expect(callsOf('delete_thing')).toBe(before + 1);
    expect(approved.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'Tool results: Deleted 7' } });
    const fields = (approved.choices[0]!.message as { provider_specific_fields?: ChatMcpFields }).provider_specific_fields!;
    expect(fields.mcp_call_results).toEqual([{ tool_call_id: expect.stringMatching(/^mcp_/), name: 'delete_thing', result: 'Deleted 7' }]);

    // A client that keeps only role, content and tool_calls is understood too; a denial runs nothing.
    // (An approval request is answered once: the denial is of a new one.)
    const again = (await client.chat.completions.create({ model: 'm', messages, tools })).choices[0]!.message;
    const bare = { role: 'assistant', content: null, tool_calls: again.tool_calls } as ChatCompletionMessageParam;
    const denied = await client.chat.completions.create({
      model: 'm',
      tools,
      messages: [...messages, bare],
      mcp_approval_responses: [{ approval_request_id: again.tool_calls![0]!.id, approve: false, reason: 'not today' }],
      stream: false,
    } as ChatCompletionCreateParamsBase & { stream: false });
    expect(callsOf('delete_thing')).toBe(before + 1);
    expect(denied.choices[0]!.message.content).toMatch(/^Tool results: The user denied this tool call; it was not run\. Reason: not today/);

    // The client may also answer the call itself, as for any function tool.
    const own = await client.chat.completions.create({
      model: 'm',
      tools,
      messages: [...messages, pending as ChatCompletionMessageParam, { role: 'tool', tool_call_id: approvalId, content: 'deleted by hand' }],
    });
    expect(own.choices[0]!.message.content).toBe('Tool results: deleted by hand');
    expect(callsOf('delete_thing')).toBe(before + 1);

    const unknown = await client.chat.completions
      .create({ model: 'm', tools, messages, mcp_approval_responses: [{ approval_request_id: 'mcpr_nope', approve: true }], stream: false } as ChatCompletionCreateParamsBase & { stream: false })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 400, param: 'mcp_approval_responses[0].approval_request_id', code: 'approval_request_not_found' });
  });

  it('forwards MCP credentials from headers, and fails a rejected tool list with a 424', async () => {
    const ok = await client.chat.completions.create({
      model: 'm',
      messages: user('!call g__echo {"message":"auth"}'),
      tools: [mcpTool({ server_label: 'g', server_url: guarded.url, headers: { Authorization: SECRET } })],
    });
    expect(ok.choices[0]!.message.content).toBe('Tool results: Echo: auth');
    const err = await client.chat.completions.create({ model: 'm', messages: user('hi'), tools: [mcpTool({ server_label: 'g', server_url: guarded.url })] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 424, type: 'external_connector_error', param: 'tools' });
    expect((err as Error).message).toContain('401');
  });

  it('bounds the calls of one request with max_tool_calls', async () => {
    const before = server.calls.length;
    const r = await complete({ model: 'm', messages: user('!call t__echo {"message":"one"}\n!call t__echo {"message":"two"}'), tools: [mcpTool()], max_tool_calls: 1 }, false);
    expect(server.calls.length).toBe(before + 1);
    expect(r.fields!.mcp_call_results!.map((c) => c.result)).toEqual(['Echo: one', expect.stringMatching(/^Error: Not run: .*max_tool_calls/)]);
  });

  it('goes through the queues: an API-only process enqueues, separate LLM and MCP workers do the work', async () => {
    const prefix = `${uniquePrefix('chat-split')}:`;
    const env = { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1,localhost' };
    const api = await startTestSpool({ name: 'chat-api', prefix, keepData: true, env: { ...env, SPOOL_ROLES: 'api' } });
    const workers = await startTestSpool({ name: 'chat-workers', prefix, env: { ...env, SPOOL_ROLES: 'llm,mcp' } });
    try {
      for (const stream of [false, true]) {
        const c = await api.client.chat.completions.create({ model: 'm', messages: user('!call t__echo {"message":"split"}'), tools: [mcpTool()], stream });
        let content = '';
        if (stream) for await (const chunk of c as AsyncIterable<ChatCompletionChunk>) content += chunk.choices[0]?.delta.content ?? '';
        else content = (c as ChatCompletion).choices[0]!.message.content ?? '';
        expect(content).toBe('Tool results: Echo: split');
      }
      expect(api.upstream.requests).toHaveLength(0);
      expect(workers.upstream.requests).toHaveLength(4);
    } finally {
      await api.close();
      await workers.close();
    }
  });

  it('names the MCP tools as the LLM worker offers them', () => {
    for (const [label, tool] of [
      ['t', 'echo'],
      ['my-server', 'get.weather/now'],
      ['x'.repeat(40), 'y'.repeat(40)],
    ] as const) {
      expect(mcpFunctionName(label, tool)).toBe(workerFunctionName(label, tool));
    }
  });
});

describe('errors are OpenAI-shaped and name the parameter', () => {
  const post = async (body: unknown) => {
    const res = await fetch(`${spool.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } } };
  };

  it.each([
    [{ model: 'm' }, 'messages'],
    [{ model: 'm', messages: [] }, 'messages'],
    [{ model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ model: 'm', messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 2 }, 'n'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], stop: ['\n'] }, 'stop'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'mcp', server_label: 't', server_url: 'ftp://h/x' }] }, 'tools[0].server_url'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'web_search' }] }, 'tools[0].type'],
    [
      {
        model: 'm',
        messages: [
          { role: 'user', content: 'x' },
          { role: 'tool', tool_call_id: 'call_nope', content: 'r' },
        ],
      },
      'messages[1].tool_call_id',
    ],
  ])('%j → 400 naming %s', async (body, param) => {
    const r = await post(body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param, message: expect.any(String) });
    expect(Object.keys(r.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('reports an upstream failure as an error, streaming or not', async () => {
    // The upstream's 400 is the client's: the same status and the upstream's message.
    const err = await client.chat.completions.create({ model: 'm', messages: user('!fail 400') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect((err as Error).message).toContain('HTTP 400');
    expect((err as Error).message).toContain('Scripted failure');
    const s = await client.chat.completions.create({ model: 'm', messages: user('!fail 400'), stream: true });
    const streamed = await (async () => {
      for await (const _ of s) void _;
    })().catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(OpenAI.APIError);
    expect((streamed as Error).message).toContain('HTTP 400');
  });
});
