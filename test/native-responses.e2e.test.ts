import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedEncryptedContent, startScriptedUpstream, type ScriptedUpstream, startEverything, startTestMcpServer, type EverythingServer, type TestMcpServer } from '@spool/testkit';
import { SPEC_AVAILABLE, validateResponseResource, validateStreamingEvent } from './support/openapi.ts';
import { eventsOf, readSse, startTestSpool, until, untilTerminal, type TestSpool } from './support/spool.ts';

/*
 * A default upstream that speaks the Responses API (UPSTREAM_API=responses): every model turn is a
 * streamed, stateless `POST /v1/responses` to the scripted upstream, and what it streams is
 * normalised into Spool's own log. Everything runs through the official `openai` client, on real
 * Redis, real MCP servers and the real queues.
 */

let spool: TestSpool;
let client: OpenAI;
let everything: EverythingServer;
let approvals: TestMcpServer;
/** The upstream of the `searcher` route, which passes hosted web search through. */
let searcher: ScriptedUpstream;

beforeAll(async () => {
  [everything, approvals, searcher] = await Promise.all([startEverything('streamable-http'), startTestMcpServer({}), startScriptedUpstream()]);
  spool = await startTestSpool({
    name: 'native-responses',
    env: { UPSTREAM_API: 'responses', SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1,localhost' },
    file: {
      // One retry, as the SDK makes it: it absorbs a keep-alive socket the upstream closed between
      // calls (seen under full-suite load with none), and keeps the failure tests quick.
      limits: { upstream_max_retries: 1 },
      models: [{ name: 'searcher', base_url: searcher.url, api: 'responses', hosted_tools: ['web_search', 'file_search', 'code_interpreter', 'image_generation'] }],
    },
  });
  client = spool.client;
}, 120_000);

afterAll(async () => {
  await spool?.close();
  await Promise.all([everything?.close(), approvals?.close(), searcher?.close()]);
});

type Json = Record<string, unknown>;

/** The Responses calls the upstream got, from `from` on. */
const upstreamCalls = (from = 0) => spool.upstream.responses.slice(from);
const inputOf = (call: { body: Json } | undefined) => (call?.body.input ?? []) as Json[];
/** A user message as Spool stores it (the API normalises `input: "…"` into parts). */
const user = (text: string) => ({ role: 'user', content: [{ type: 'input_text', text }] });

/**
 * Every event the route emitted, checked against the Open Responses schema; those carrying MCP or
 * hosted web search objects are left out, as in openresponses-schema.test.ts: the spec defines no
 * MCP or web search items or tools, so they cannot validate.
 */
function expectSchemaValid(events: Array<Json & { type: string }>) {
  if (!SPEC_AVAILABLE) return;
  const bad = events
    .filter((e) => !/"type":"(response\.)?(mcp|web_search|file_search|code_interpreter|image_generation)/.test(JSON.stringify(e)))
    .map((e) => ({ type: e.type, errors: validateStreamingEvent(e) }))
    .filter((v) => v.errors.length > 0);
  expect(bad).toEqual([]);
}

async function streamRaw(body: Json) {
  const res = await fetch(`${spool.baseURL}/responses`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer test-key' },
    body: JSON.stringify({ model: 'm', stream: true, ...body }),
  });
  expect(res.status).toBe(200);
  const { frames } = await readSse(res);
  return eventsOf(frames);
}

/** Responses parameters that reach the upstream under their own names and shapes. */
const PASSED = {
  instructions: 'Be brief.',
  reasoning: { effort: 'low', summary: 'detailed' },
  text: { verbosity: 'low', format: { type: 'text' } },
  service_tier: 'flex',
  prompt_cache_key: 'pck-1',
  safety_identifier: 'user-1',
  top_logprobs: 2,
  truncation: 'auto',
  max_output_tokens: 50,
  max_tool_calls: 3,
  metadata: { k: 'v' },
} as const;

describe('a Responses upstream, called natively', () => {
  it('answers text: the upstream gets a stateless, streamed Responses call with Responses-named parameters', async () => {
    const before = spool.upstream.responses.length;
    const r = await client.responses.create({ model: 'm', input: '!say hello from responses', ...PASSED, include: ['reasoning.encrypted_content'] });
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe('hello from responses');
    expect(r.id).toMatch(/^resp_/);
    expect(r.id).not.toMatch(/_up/);
    expect(r.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: 3 });
    if (SPEC_AVAILABLE) expect(validateResponseResource(r)).toEqual([]);
    const [call] = upstreamCalls(before);
    expect(call?.body).toMatchObject({
      model: 'm',
      stream: true,
      store: false,
      ...PASSED,
      // top_logprobs > 0 asks for logprobs (as on the Chat route); encrypted reasoning is always asked for.
      include: ['reasoning.encrypted_content', 'message.output_text.logprobs'],
    });
    // parallel_tool_calls was not set, and with no tools it would not be sent anyway (as on the Chat route).
    expect(call?.body).not.toHaveProperty('parallel_tool_calls');
    expect(call?.body).not.toHaveProperty('previous_response_id');
    expect(inputOf(call)).toEqual([user('!say hello from responses')]);
  });

  it('streams through responses.stream(), with Spool numbering every event and every event schema-valid', async () => {
    const stream = client.responses.stream({ model: 'm', input: '!say one two three' });
    const events: Array<Json & { type: string; sequence_number: number }> = [];
    for await (const e of stream) events.push(e as unknown as Json & { type: string; sequence_number: number });
    const final = await stream.finalResponse();
    // The status (and error) first: a failed upstream call is then named, not an empty text.
    expect({ status: final.status, error: final.error }).toEqual({ status: 'completed', error: null });
    expect(final.output_text).toBe('one two three');
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.map((e) => e.type).filter((t) => t === 'response.created')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('response.completed');
    expect(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta)).toEqual(['one ', 'two ', 'three']);
    // Spool's ids, not the upstream's.
    const added = events.find((e) => e.type === 'response.output_item.added') as { item: { id: string } } | undefined;
    expect(added?.item.id).toMatch(/^msg_/);
    expect(added?.item.id).not.toMatch(/_up/);
    expectSchemaValid(events);
  });

  it('keeps a reasoning item (text, summary, encrypted_content) and feeds it back on the next turn and on a previous_response_id follow-up', async () => {
    const events = await streamRaw({ input: '!think weighing it up\n!say done thinking', reasoning: { summary: 'auto' }, include: ['reasoning.encrypted_content'] });
    expectSchemaValid(events);
    const types = events.map((e) => e.type);
    expect(types).toContain('response.reasoning_text.delta');
    expect(types).toContain('response.reasoning_summary_text.delta');
    const done = events.find((e) => e.type === 'response.completed') as unknown as { response: { id: string; output: Json[] } };
    const reasoning = done.response.output[0];
    const sealed = scriptedEncryptedContent('weighing it up');
    expect(reasoning).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Summary: weighing it up' }],
      content: [{ type: 'reasoning_text', text: 'weighing it up' }],
      encrypted_content: sealed,
      status: 'completed',
    });
    expect(String(reasoning?.id)).toMatch(/^rs_/);
    const polled = await client.responses.retrieve(done.response.id);
    expect(polled.output[0]).toMatchObject({ type: 'reasoning', encrypted_content: sealed });

    const before = spool.upstream.responses.length;
    const follow = await client.responses.create({ model: 'm', previous_response_id: done.response.id, input: '!say again' });
    expect(follow.output_text).toBe('again');
    const input = inputOf(upstreamCalls(before)[0]);
    expect(input[0]).toEqual(user('!think weighing it up\n!say done thinking'));
    expect(input[1]).toMatchObject({ type: 'reasoning', id: reasoning?.id, encrypted_content: sealed, summary: [{ type: 'summary_text', text: 'Summary: weighing it up' }] });
    expect(input[2]).toEqual({ role: 'assistant', content: 'done thinking' });
    expect(input[3]).toEqual(user('!say again'));
  });
});

describe('tools on a Responses upstream: Spool runs MCP, the upstream keeps its reasoning', () => {
  it('runs an MCP round on server-everything as function calls, with the reasoning item fed back on the next turn', async () => {
    const before = spool.upstream.responses.length;
    const events = await streamRaw({
      input: '!think I should echo\n!call everything__echo {"message":"hello native"}',
      tools: [{ type: 'mcp', server_label: 'everything', server_url: everything.url!, require_approval: 'never' }],
    });
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.filter((e) => e.type === 'response.created')).toHaveLength(1);
    expectSchemaValid(events);
    const final = events.at(-1) as unknown as { type: string; response: OpenAI.Responses.Response };
    expect(final.type).toBe('response.completed');
    expect(final.response.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'reasoning', 'mcp_call', 'message']);
    const call = final.response.output[2] as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call).toMatchObject({ server_label: 'everything', name: 'echo', status: 'completed' });
    expect(call.output).toContain('hello native');

    const [first, second] = upstreamCalls(before);
    // MCP tools are offered as function tools; Spool's executor runs them.
    expect((first?.body.tools as Json[]).map((t) => [t.type, t.name])).toContainEqual(['function', 'everything__echo']);
    const reasoning = final.response.output[1] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.encrypted_content).toBe(scriptedEncryptedContent('I should echo'));
    expect(inputOf(second).slice(1)).toEqual([
      { type: 'reasoning', id: reasoning.id, summary: [], content: [{ type: 'reasoning_text', text: 'I should echo' }], encrypted_content: scriptedEncryptedContent('I should echo') },
      { type: 'function_call', call_id: call.id, name: 'everything__echo', arguments: '{"message":"hello native"}' },
      { type: 'function_call_output', call_id: call.id, output: call.output },
    ]);
  });

  it('parks an approval and, approved, runs the call and continues with the reasoning of the first turn', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'mcp', server_label: 't', server_url: approvals.url }];
    const first = await client.responses.create({ model: 'm', input: '!think deleting needs a yes\n!call t__delete_thing {"id":"42"}', tools });
    expect(first.output.map((i) => i.type)).toEqual(['mcp_list_tools', 'reasoning', 'mcp_approval_request']);
    const request = first.output[2] as OpenAI.Responses.ResponseOutputItem.McpApprovalRequest;
    expect(approvals.calls.filter((c) => c.name === 'delete_thing')).toHaveLength(0);

    const before = spool.upstream.responses.length;
    const second = await client.responses.create({ model: 'm', previous_response_id: first.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: request.id, approve: true }] });
    expect(second.status).toBe('completed');
    expect(second.output.map((i) => i.type)).toEqual(['mcp_call', 'message']);
    expect(second.output[0]).toMatchObject({ name: 'delete_thing', approval_request_id: request.id, status: 'completed' });
    expect(approvals.calls.filter((c) => c.name === 'delete_thing')).toHaveLength(1);
    // The approved call ran with no inference; one model call followed, with the reasoning in its input.
    const calls = upstreamCalls(before);
    expect(calls).toHaveLength(1);
    const input = inputOf(calls[0]);
    expect(input.map((i) => i.type ?? 'message')).toEqual(['message', 'reasoning', 'function_call', 'function_call_output']);
    expect(input[1]).toMatchObject({ encrypted_content: scriptedEncryptedContent('deleting needs a yes') });
  });

  it('round-trips a client function tool and its function_call_output', async () => {
    const fn: OpenAI.Responses.Tool = { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false };
    const before0 = spool.upstream.responses.length;
    const first = await client.responses.create({
      model: 'm',
      input: '!call get_weather {"city":"Paris"}',
      tools: [fn],
      parallel_tool_calls: false,
      tool_choice: { type: 'function', name: 'get_weather' },
    });
    expect(upstreamCalls(before0)[0]?.body).toMatchObject({
      tools: [{ type: 'function', name: 'get_weather', parameters: fn.parameters, strict: false }],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
    });
    const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' });
    const before = spool.upstream.responses.length;
    const second = await client.responses.create({ model: 'm', previous_response_id: first.id, tools: [fn], input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }] });
    expect(second.output_text).toBe('Tool results: sunny');
    expect(inputOf(upstreamCalls(before)[0]).slice(1)).toEqual([
      { type: 'function_call', call_id: call.call_id, name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
    ]);
  });
});

describe('lifecycle on a Responses upstream', () => {
  it('cancels mid-stream: the upstream stream is closed, and nothing completes the response later', async () => {
    const before = spool.upstream.responses.length;
    const r = await client.responses.create({ model: 'm', input: '!delay 60\n!words 40', background: true });
    await until(async () => {
      const polled = await client.responses.retrieve(r.id);
      return polled.output.length > 0 && (polled.output[0] as { content?: unknown[] }).content?.length;
    });
    const cancelled = await client.responses.cancel(r.id);
    expect(cancelled.status).toBe('cancelled');
    const [call] = upstreamCalls(before);
    await until(async () => call?.outcome === 'client_closed', 3000);
    expect(call?.outcome).toBe('client_closed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await client.responses.retrieve(r.id)).status).toBe('cancelled');
  });

  it('runs in the background and resumes a stream from a sequence number', async () => {
    const r = await client.responses.create({ model: 'm', input: '!think quietly\n!delay 10\n!words 8', background: true });
    const all = [];
    for await (const e of client.responses.stream({ response_id: r.id, starting_after: -1 } as never) as unknown as AsyncIterable<Json & { type: string; sequence_number: number }>) all.push(e);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expectSchemaValid(all);
    const tail = [];
    const resumed = client.responses.stream({ response_id: r.id, starting_after: 6 });
    for await (const e of resumed) tail.push(e);
    expect(tail).toEqual(all.slice(7));
    const done = await untilTerminal(client, r.id);
    expect(done.output.map((i) => i.type)).toEqual(['reasoning', 'message']);
    expect(done.output_text).toBe('w1 w2 w3 w4 w5 w6 w7 w8');
  });

  it('answers a Chat Completions request on a Responses route in Chat shape', async () => {
    const before = spool.upstream.responses.length;
    const c = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '!say chat over responses' }] });
    expect(c.object).toBe('chat.completion');
    expect(c.choices[0]?.message.content).toBe('chat over responses');
    expect(upstreamCalls(before)).toHaveLength(1);
    const chunks = [];
    for await (const chunk of await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: '!say streamed chat' }] })) chunks.push(chunk);
    expect(chunks.map((ch) => ch.choices[0]?.delta.content ?? '').join('')).toBe('streamed chat');
  });
});

describe('upstream failures on a Responses upstream map as on the Chat route', () => {
  it('fails on HTTP errors: 429 rate_limit_exceeded, 400 invalid_prompt kept as a 400, 5xx as a 502', async () => {
    const limited = await client.responses.create({ model: 'm', input: '!fail 429', background: true });
    expect((await untilTerminal(client, limited.id)).error?.code).toBe('rate_limit_exceeded');
    await expect(client.responses.create({ model: 'm', input: '!fail 400' })).rejects.toMatchObject({ status: 400 });
    await expect(client.responses.create({ model: 'm', input: '!fail 500' })).rejects.toMatchObject({ status: 502 });
  });

  it('fails on a response.failed or error event mid-stream, closing what was open, every event schema-valid', async () => {
    const failed = await streamRaw({ input: '!failevent rate_limit_exceeded\n!words 3' });
    expectSchemaValid(failed);
    const last = failed.at(-1) as unknown as { type: string; response: OpenAI.Responses.Response };
    expect(last.type).toBe('response.failed');
    expect(last.response.error?.code).toBe('rate_limit_exceeded');
    expect(last.response.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });

    const errored = await streamRaw({ input: '!errorevent server_error\n!words 3' });
    expectSchemaValid(errored);
    expect((errored.at(-1) as unknown as { response: OpenAI.Responses.Response }).response.error?.code).toBe('server_error');
    await expect(client.responses.create({ model: 'm', input: '!errorevent invalid_prompt' })).rejects.toMatchObject({ status: 400, code: 'invalid_prompt' });
  });

  it('fails when the upstream dies mid-stream', async () => {
    const stream = client.responses.stream({ model: 'm', input: '!cutafter 2\n!words 10' });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    expect(types.at(-1)).toBe('response.failed');
  });
});

describe('hosted tools', () => {
  it('passes web_search through on a route that lists it, relaying its item and events under Spool ids', async () => {
    const events = await streamRaw({ model: 'searcher', input: '!websearch spool queues\n!say found it', tools: [{ type: 'web_search', search_context_size: 'low' }] });
    expectSchemaValid(events);
    const types = events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['response.web_search_call.in_progress', 'response.web_search_call.searching', 'response.web_search_call.completed']));
    const final = (events.at(-1) as unknown as { response: OpenAI.Responses.Response }).response;
    expect(final.output.map((i) => i.type)).toEqual(['web_search_call', 'message']);
    expect(final.output[0]).toMatchObject({ type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'spool queues', sources: [{ type: 'url' }] } });
    expect(final.output[0]?.id).toMatch(/^ws_/);
    expect(final.output[0]?.id).not.toMatch(/_up/);
    expect(final.tools).toEqual([{ type: 'web_search', search_context_size: 'low' }]);
    expect(searcher.responses.at(-1)?.body.tools).toEqual([{ type: 'web_search', search_context_size: 'low' }]);
    // The message after the search is still checked against the spec.
    expect(events.filter((e) => e.type === 'response.output_text.delta').length).toBeGreaterThan(0);
  });

  it('passes file_search through, relaying its item and events in order under Spool ids', async () => {
    const tool = { type: 'file_search' as const, vector_store_ids: ['vs_notes'], max_num_results: 3 };
    const stream = await client.responses.create({ model: 'searcher', input: '!filesearch retry policy\n!say read it', tools: [tool], stream: true });
    const events: Array<Json & { type: string }> = [];
    for await (const e of stream) events.push(e as unknown as Json & { type: string });
    expectSchemaValid(events);
    const added = events.find((e) => e.type === 'response.output_item.added') as unknown as { item: Json; output_index: number };
    expect(added.item).toMatchObject({ type: 'file_search_call', status: 'in_progress', queries: ['retry policy'] });
    const id = added.item.id as string;
    expect(id).toMatch(/^fs_/);
    expect(id).not.toMatch(/_up/);
    // The item's own events, in the upstream's order, each under Spool's id and output index.
    const own = events.filter((e) => e.item_id === id || (e.item as Json | undefined)?.id === id);
    expect(own.map((e) => e.type)).toEqual([
      'response.output_item.added',
      'response.file_search_call.in_progress',
      'response.file_search_call.searching',
      'response.file_search_call.completed',
      'response.output_item.done',
    ]);
    expect(own.every((e) => e.output_index === added.output_index)).toBe(true);
    const final = (events.at(-1) as unknown as { response: OpenAI.Responses.Response }).response;
    expect(final.output.map((i) => i.type)).toEqual(['file_search_call', 'message']);
    expect(final.output[0]).toEqual({
      type: 'file_search_call',
      id,
      status: 'completed',
      queries: ['retry policy'],
      results: [{ file_id: 'file_scripted', filename: 'notes.txt', score: 0.9, text: 'About retry policy.', attributes: {} }],
    });
    expect(final.tools).toEqual([tool]);
    expect(searcher.responses.at(-1)?.body.tools).toEqual([tool]);
    // The stored response holds the item too.
    expect((await client.responses.retrieve(final.id)).output[0]).toEqual(final.output[0]);
  });

  it('passes code_interpreter through, relaying its code deltas and status events in order under Spool ids', async () => {
    const tool = { type: 'code_interpreter' as const, container: { type: 'auto' as const } };
    const stream = await client.responses.create({ model: 'searcher', input: '!code print(6*7)\n!say 42', tools: [tool], stream: true });
    const events: Array<Json & { type: string }> = [];
    for await (const e of stream) events.push(e as unknown as Json & { type: string });
    expectSchemaValid(events);
    const added = events.find((e) => e.type === 'response.output_item.added') as unknown as { item: Json; output_index: number };
    expect(added.item).toMatchObject({ type: 'code_interpreter_call', status: 'in_progress', container_id: 'cntr_scripted', outputs: null });
    const id = added.item.id as string;
    expect(id).toMatch(/^ci_/);
    expect(id).not.toMatch(/_up/);
    const own = events.filter((e) => e.item_id === id || (e.item as Json | undefined)?.id === id);
    expect(own.map((e) => e.type)).toEqual([
      'response.output_item.added',
      'response.code_interpreter_call.in_progress',
      'response.code_interpreter_call_code.delta',
      'response.code_interpreter_call_code.delta',
      'response.code_interpreter_call_code.done',
      'response.code_interpreter_call.interpreting',
      'response.code_interpreter_call.completed',
      'response.output_item.done',
    ]);
    expect(own.every((e) => e.output_index === added.output_index)).toBe(true);
    expect(own.filter((e) => e.type === 'response.code_interpreter_call_code.delta').map((e) => e.delta)).toEqual(['print', '(6*7)']);
    const final = (events.at(-1) as unknown as { response: OpenAI.Responses.Response }).response;
    expect(final.output.map((i) => i.type)).toEqual(['code_interpreter_call', 'message']);
    expect(final.output[0]).toEqual({
      type: 'code_interpreter_call',
      id,
      status: 'completed',
      container_id: 'cntr_scripted',
      code: 'print(6*7)',
      outputs: [{ type: 'logs', logs: 'ran: print(6*7)' }],
    });
    expect(final.tools).toEqual([tool]);
    expect(searcher.responses.at(-1)?.body.tools).toEqual([tool]);
    expect((await client.responses.retrieve(final.id)).output[0]).toEqual(final.output[0]);
  });

  it('passes image_generation through, relaying its partial image and status events in order under Spool ids', async () => {
    const tool = { type: 'image_generation' as const, quality: 'low' as const };
    const stream = await client.responses.create({ model: 'searcher', input: '!image a red spool\n!say drawn', tools: [tool], stream: true });
    const events: Array<Json & { type: string }> = [];
    for await (const e of stream) events.push(e as unknown as Json & { type: string });
    expectSchemaValid(events);
    const added = events.find((e) => e.type === 'response.output_item.added') as unknown as { item: Json; output_index: number };
    expect(added.item).toMatchObject({ type: 'image_generation_call', status: 'in_progress', result: null });
    const id = added.item.id as string;
    expect(id).toMatch(/^ig_/);
    expect(id).not.toMatch(/_up/);
    const own = events.filter((e) => e.item_id === id || (e.item as Json | undefined)?.id === id);
    expect(own.map((e) => e.type)).toEqual([
      'response.output_item.added',
      'response.image_generation_call.in_progress',
      'response.image_generation_call.partial_image',
      'response.image_generation_call.generating',
      'response.image_generation_call.completed',
      'response.output_item.done',
    ]);
    expect(own.every((e) => e.output_index === added.output_index)).toBe(true);
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    expect(own[2]).toMatchObject({ partial_image_index: 0, partial_image_b64: b64('a red ') });
    const final = (events.at(-1) as unknown as { response: OpenAI.Responses.Response }).response;
    expect(final.output.map((i) => i.type)).toEqual(['image_generation_call', 'message']);
    expect(final.output[0]).toEqual({ type: 'image_generation_call', id, status: 'completed', result: b64('a red spool'), revised_prompt: 'a red spool', size: '1024x1024', output_format: 'png' });
    expect(final.tools).toEqual([tool]);
    expect(searcher.responses.at(-1)?.body.tools).toEqual([tool]);
    expect((await client.responses.retrieve(final.id)).output[0]).toEqual(final.output[0]);
  });

  it('stays a clear 400 on a route that does not list it', async () => {
    const tools = [
      { type: 'web_search' as const },
      { type: 'file_search' as const, vector_store_ids: ['vs_1'] },
      { type: 'code_interpreter' as const, container: 'cntr_1' },
      { type: 'image_generation' as const },
    ];
    for (const tool of tools) {
      const err = await client.responses.create({ model: 'm', input: 'x', tools: [tool] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 400, param: 'tools[0].type', code: 'unsupported_tool_type' });
    }
  });
});
