import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedEncryptedContent } from '@spool/testkit';
import { startEverything, startTestMcpServer, type EverythingServer, type TestMcpServer } from './mcp-servers/index.ts';
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

beforeAll(async () => {
  [everything, approvals] = await Promise.all([startEverything('streamable-http'), startTestMcpServer({})]);
  spool = await startTestSpool({
    name: 'native-responses',
    env: { UPSTREAM_API: 'responses', SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1,localhost' },
    file: { limits: { upstream_max_retries: 0 } },
  });
  client = spool.client;
}, 120_000);

afterAll(async () => {
  await spool?.close();
  await Promise.all([everything?.close(), approvals?.close()]);
});

type Json = Record<string, unknown>;

/** The Responses calls the upstream got, from `from` on. */
const upstreamCalls = (from = 0) => spool.upstream.responses.slice(from);
const inputOf = (call: { body: Json } | undefined) => (call?.body.input ?? []) as Json[];
/** A user message as Spool stores it (the API normalises `input: "…"` into parts). */
const user = (text: string) => ({ role: 'user', content: [{ type: 'input_text', text }] });

/** Every event and Response the route emitted, checked against the Open Responses schema (MCP ones excepted: the spec has no MCP items). */
function expectSchemaValid(events: Array<Json & { type: string }>) {
  if (!SPEC_AVAILABLE) return;
  const bad = events.filter((e) => !e.type.includes('mcp') && !JSON.stringify(e).includes('"mcp_')).map((e) => ({ type: e.type, errors: validateStreamingEvent(e) })).filter((v) => v.errors.length > 0);
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

describe('a Responses upstream, called natively', () => {
  it('answers text: the upstream gets a stateless, streamed Responses call with Responses-named parameters', async () => {
    const before = spool.upstream.responses.length;
    const r = await client.responses.create({
      model: 'm',
      instructions: 'Be brief.',
      input: '!say hello from responses',
      reasoning: { effort: 'low', summary: 'detailed' },
      text: { verbosity: 'low', format: { type: 'text' } },
      service_tier: 'flex',
      prompt_cache_key: 'pck-1',
      safety_identifier: 'user-1',
      top_logprobs: 2,
      truncation: 'auto',
      max_output_tokens: 50,
      max_tool_calls: 3,
      parallel_tool_calls: false,
      metadata: { k: 'v' },
      include: ['reasoning.encrypted_content'],
    });
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
      // top_logprobs > 0 asks for logprobs (as on the Chat route); encrypted reasoning is always asked for.
      include: ['reasoning.encrypted_content', 'message.output_text.logprobs'],
    });
    // No tools offered: parallel_tool_calls is not sent (as on the Chat route).
    expect(call?.body).not.toHaveProperty('parallel_tool_calls');
    expect(call?.body).not.toHaveProperty('previous_response_id');
    expect(inputOf(call)).toEqual([user('!say hello from responses')]);
  });

  it('streams through responses.stream(), with Spool numbering every event and every event schema-valid', async () => {
    const stream = client.responses.stream({ model: 'm', input: '!say one two three' });
    const events: Array<Json & { type: string; sequence_number: number }> = [];
    for await (const e of stream) events.push(e as unknown as Json & { type: string; sequence_number: number });
    const final = await stream.finalResponse();
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
