import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOf, readSse, startTestSpool, until, untilTerminal, type TestSpool } from './support/spool.ts';

/**
 * The whole pipeline (API → turn queue → LLM worker → event log → SSE) on a real Redis, with the
 * official `openai` client as the caller and a scripted OpenAI-compatible upstream.
 */
let spool: TestSpool;
let client: OpenAI;

beforeAll(async () => {
  spool = await startTestSpool({ name: 'responses', file: { limits: { keepalive_ms: 200, upstream_max_retries: 2 } } });
  client = spool.client;
});
afterAll(async () => {
  await spool?.close();
});

function textOf(r: OpenAI.Responses.Response): string {
  return r.output
    .flatMap((i) => (i.type === 'message' ? i.content : []))
    .map((c) => (c.type === 'output_text' ? c.text : ''))
    .join('');
}

function expectSequential(events: Array<{ sequence_number: number }>, from = 0) {
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => from + i));
}

describe('create, four modes', () => {
  it('answers a plain request with the completed Response', async () => {
    const r = await client.responses.create({ model: 'demo-model', input: '!say Hi there, friend' });
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe('Hi there, friend');
    expect(r.object).toBe('response');
    expect(r.model).toBe('demo-model');
    expect(r.completed_at).toBeGreaterThan(0);
    expect(r.usage?.output_tokens).toBe(3);
    expect(r.usage?.total_tokens).toBe((r.usage?.input_tokens ?? 0) + 3);
    const polled = await client.responses.retrieve(r.id);
    expect(polled).toEqual(r);
  });

  it('calls the model without streaming only when nobody can watch the response (sync, not streamed)', async () => {
    const marker = (mode: string) => `!say ${mode} ${Date.now()}`;
    const sentFor = (input: string) => spool.upstream.requests.findLast((q) => JSON.stringify(q.messages).includes(input));
    const sync = marker('sync');
    expect((await client.responses.create({ model: 'm', input: sync })).output_text).toBe(sync.slice(5));
    expect(sentFor(sync)).toMatchObject({ stream: false });
    expect(sentFor(sync)).not.toHaveProperty('stream_options');

    const streamed = marker('streamed');
    await client.responses.stream({ model: 'm', input: streamed }).finalResponse();
    expect(sentFor(streamed)).toMatchObject({ stream: true, stream_options: { include_usage: true } });

    const background = marker('background');
    const queued = await client.responses.create({ model: 'm', input: background, background: true });
    await untilTerminal(client, queued.id);
    expect(sentFor(background)).toMatchObject({ stream: true });
  });

  it('streams with the SDK helper, which checks the event order strictly', async () => {
    const stream = client.responses.stream({ model: 'm', input: '!words 20' });
    const seen: Array<{ type: string; sequence_number: number }> = [];
    for await (const e of stream) seen.push(e);
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(Array.from({ length: 20 }, (_, i) => `w${i + 1}`).join(' '));
    expectSequential(seen);
    expect(seen.slice(0, 4).map((e) => e.type)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(seen.slice(-4).map((e) => e.type)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(seen.filter((e) => e.type === 'response.output_text.delta')).toHaveLength(20);
  });

  it('answers background requests at once with a queued Response, then completes them', async () => {
    const r = await client.responses.create({ model: 'm', input: '!delay 50\n!words 3', background: true });
    expect(r.status).toBe('queued');
    expect(r.background).toBe(true);
    expect(r.output).toEqual([]);
    const done = await until(async () => {
      const p = await client.responses.retrieve(r.id);
      return p.status === 'completed' ? p : null;
    });
    expect(done.output_text).toBe('w1 w2 w3');
  });

  it('streams a background response: created and queued first, then in_progress', async () => {
    const stream = await client.responses.create({ model: 'm', input: '!words 2', background: true, stream: true });
    const events = [];
    for await (const e of stream) events.push(e);
    expect(events.slice(0, 3).map((e) => [e.type, 'response' in e ? e.response.status : null])).toEqual([
      ['response.created', 'queued'],
      ['response.queued', 'queued'],
      ['response.in_progress', 'in_progress'],
    ]);
    expect(events.at(-1)?.type).toBe('response.completed');
    expectSequential(events);
  });

  it('shows partial output while a background response is in progress', async () => {
    const r = await client.responses.create({ model: 'm', input: '!delay 40\n!words 30', background: true });
    const partial = await until(async () => {
      const p = await client.responses.retrieve(r.id);
      const text = textOf(p);
      return p.status === 'in_progress' && text.length > 0 ? { p, text } : null;
    });
    expect(partial.text.startsWith('w1')).toBe(true);
    const final = await until(async () => {
      const p = await client.responses.retrieve(r.id);
      return p.status === 'completed' ? p : null;
    });
    expect(textOf(final).length).toBeGreaterThan(partial.text.length);
  });
});

describe('resume and replay', () => {
  it('replays from starting_after and follows live events to the end', async () => {
    const r = await client.responses.create({ model: 'm', input: '!delay 20\n!words 15', background: true });
    const first = await client.responses.retrieve(r.id, { stream: true, starting_after: -1 } as never);
    const all = [];
    for await (const e of first as unknown as AsyncIterable<{ type: string; sequence_number: number }>) all.push(e);
    expectSequential(all);

    const resumed = await client.responses.retrieve(r.id, { stream: true, starting_after: 7 });
    const tail = [];
    for await (const e of resumed) tail.push(e);
    expect(tail).toEqual(all.slice(8));
  });

  it('resumes with the SDK helper from a sequence number', async () => {
    const r = await client.responses.create({ model: 'm', input: '!words 10', background: true });
    await until(async () => (await client.responses.retrieve(r.id)).status === 'completed');
    const stream = client.responses.stream({ response_id: r.id, starting_after: 5 });
    const seen = [];
    for await (const e of stream) seen.push(e);
    expect(seen[0]?.sequence_number).toBe(6);
    expect((await stream.finalResponse()).output_text).toBe('w1 w2 w3 w4 w5 w6 w7 w8 w9 w10');
  });

  it('gives many concurrent readers the same events, with no gap and no duplicate', async () => {
    const r = await client.responses.create({ model: 'm', input: '!delay 5\n!words 40', background: true });
    const readers = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const res = await fetch(`${spool.baseURL}/responses/${r.id}?stream=true${i % 2 ? '&starting_after=3' : ''}`);
        return eventsOf((await readSse(res)).frames);
      }),
    );
    const full = readers[0] ?? [];
    expectSequential(full);
    expect(full.at(-1)?.type).toBe('response.completed');
    readers.forEach((events, i) => expect(events).toEqual(i % 2 ? full.slice(4) : full));
  });

  it('keeps running when a streaming client disconnects, and the stream can be replayed', async () => {
    const controller = new AbortController();
    const res = await fetch(`${spool.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', input: '!delay 20\n!words 25', stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const id = /"id":"(resp_[^"]+)"/.exec(first)?.[1] as string;
    expect(id).toMatch(/^resp_/);
    controller.abort();

    const final = await until(async () => {
      const p = await client.responses.retrieve(id);
      return p.status === 'completed' ? p : null;
    });
    expect(final.output_text.split(' ')).toHaveLength(25);

    const replay = eventsOf((await readSse(await fetch(`${spool.baseURL}/responses/${id}?stream=true`))).frames);
    expectSequential(replay);
    expect(replay.at(-1)).toMatchObject({ type: 'response.completed', response: { output: final.output } });
  });

  it('frames SSE as one-line JSON events ending with [DONE], and sends keepalive comments while quiet', async () => {
    const res = await fetch(`${spool.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', input: '!delay 450\n!words 2', stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { frames, comments, raw } = await readSse(res);
    expect(raw).not.toContain('\r');
    expect(frames.at(-1)?.data).toBe('[DONE]');
    for (const f of frames.slice(0, -1)) expect(f.event).toBe(JSON.parse(f.data).type);
    expect(comments).toContain('keepalive');
  });
});

describe('context and tools', () => {
  it('chains with previous_response_id: the model sees earlier inputs and outputs, not earlier instructions', async () => {
    const a = await client.responses.create({ model: 'm', input: '!say The secret is 42', instructions: 'Be brief.' });
    const b = await client.responses.create({ model: 'm', input: 'What was the secret?', previous_response_id: a.id });
    expect(b.previous_response_id).toBe(a.id);
    const sent = spool.upstream.requests.at(-1)?.messages as Array<{ role: string; content: unknown }>;
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent[1]?.content).toBe('The secret is 42');
    expect(JSON.stringify(sent)).not.toContain('Be brief.');
  });

  it('round-trips a function call without the tools being resent', async () => {
    const tools: OpenAI.Responses.Tool[] = [
      { type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true },
    ];
    const stream = client.responses.stream({ model: 'm', input: '!call get_weather {"city":"Paris"}', tools });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    const first = await stream.finalResponse();
    expect(first.status).toBe('completed');
    const call = first.output[0];
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' });
    expect(types).toContain('response.function_call_arguments.delta');
    expect(types).toContain('response.function_call_arguments.done');
    expect(first.tools[0]).toMatchObject({ type: 'function', name: 'get_weather', strict: true });
    if (call?.type !== 'function_call') throw new Error('expected a function call');

    const second = await client.responses.create({
      model: 'm',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '18 degrees and sunny' }],
    });
    expect(second.status).toBe('completed');
    expect(second.output_text).toBe('Tool results: 18 degrees and sunny');
    const sent = spool.upstream.requests.at(-1)?.messages as Array<Record<string, unknown>>;
    expect(sent.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ id: call.call_id, function: { name: 'get_weather' } }] });
    expect(sent.at(-1)).toMatchObject({ role: 'tool', tool_call_id: call.call_id });
  });

  it('refuses a function_call_output whose call_id is unknown', async () => {
    const a = await client.responses.create({ model: 'm', input: 'hi' });
    const err = await client.responses.create({ model: 'm', previous_response_id: a.id, input: [{ type: 'function_call_output', call_id: 'call_nope', output: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).param).toBe('input[0].call_id');
  });

  it('passes instructions, images, files, parameters and text.format upstream in Chat Completions form', async () => {
    await client.responses.create({
      model: 'm',
      instructions: 'You are terse.',
      temperature: 0.3,
      top_p: 0.9,
      max_output_tokens: 50,
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true } },
      input: [
        { role: 'developer', content: 'Dev note' },
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'Look' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' },
            { type: 'input_file', filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' },
          ],
        },
      ],
    });
    const sent = spool.upstream.requests.at(-1) as Record<string, unknown>;
    expect(sent).toMatchObject({
      temperature: 0.3,
      top_p: 0.9,
      max_completion_tokens: 50,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true } },
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'system', content: 'Dev note' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
            { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
          ],
        },
      ],
    });
  });

  it('ends incomplete when max_output_tokens is reached', async () => {
    const r = await client.responses.create({ model: 'm', input: '!words 50', max_output_tokens: 5 });
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.output_text).toBe('w1 w2 w3 w4 w5 ');
    expect(r.output.at(-1)).toMatchObject({ type: 'message', status: 'incomplete' });
  });

  it('accepts and ignores unknown fields, and echoes metadata', async () => {
    const r = await client.responses.create({ model: 'm', input: 'x', metadata: { team: 'a' }, some_future_field: { x: 1 } } as never);
    expect((r as OpenAI.Responses.Response).metadata).toEqual({ team: 'a' });
  });

  it('does not keep store:false responses for later reads', async () => {
    const r = await client.responses.create({ model: 'm', input: 'x', store: false });
    expect(r.status).toBe('completed');
    await expect(client.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const err = await client.responses.create({ model: 'm', input: 'y', previous_response_id: r.id }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'previous_response_not_found' });
  });
});

describe('errors', () => {
  it('answers an unknown id with 404 in the OpenAI shape', async () => {
    const res = await fetch(`${spool.baseURL}/responses/resp_missing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: "Response with id 'resp_missing' not found.", type: 'invalid_request_error', param: null, code: 'not_found' } });
  });

  it('names the bad parameter in a 400', async () => {
    const err = await client.responses.create({ model: 'm', input: 'x', temperature: 7 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'temperature', type: 'invalid_request_error' });
    const missing = await client.responses.create({ input: 'x' } as never).catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 400, param: 'model', code: 'missing_required_parameter' });
    const unsupported = await client.responses.create({ model: 'm', input: 'x', tools: [{ type: 'web_search' }] }).catch((e: unknown) => e);
    expect(unsupported).toMatchObject({ status: 400, param: 'tools[0].type', code: 'unsupported_tool_type' });
    const badJson = await fetch(`${spool.baseURL}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
  });

  it('says previous_response_not_found for an unknown previous id', async () => {
    const err = await client.responses.create({ model: 'm', input: 'x', previous_response_id: 'resp_nope' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'previous_response_not_found', param: 'previous_response_id' });
  });

  it('fails the response with the upstream error when the upstream keeps failing', async () => {
    const queued = await client.responses.create({ model: 'm', input: '!fail 500', background: true });
    const r = await untilTerminal(client, queued.id);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('server_error');
    expect(r.error?.message).toContain('500');
    const limited = await client.responses.create({ model: 'm', input: '!fail 429', background: true });
    expect((await untilTerminal(client, limited.id)).error?.code).toBe('rate_limit_exceeded');
    // Synchronous: an HTTP error the SDK raises (a 5xx after retries is a 502).
    await expect(client.responses.create({ model: 'm', input: '!fail 500' })).rejects.toMatchObject({ status: 502 });
  });

  it('retries upstream 5xx before the first token with backoff', async () => {
    const key = `k${Date.now()}`;
    const r = await client.responses.create({ model: 'm', input: `!fail 503 2 ${key}\n!say recovered` });
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe('recovered');
  });

  it('fails the response when the upstream dies mid-stream, closing the open item', async () => {
    const stream = client.responses.stream({ model: 'm', input: '!cutafter 3\n!words 10' });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    expect(types.at(-1)).toBe('response.failed');
    const final = await client.responses.retrieve((await stream.finalResponse()).id);
    expect(final.status).toBe('failed');
    expect(final.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
  });
});
