import OpenAI, { APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedUpstream, type ScriptedUpstream } from './upstream.ts';

let upstream: ScriptedUpstream;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startScriptedUpstream();
  // No retries by default so that failures surface at once; the retry test opts in.
  client = new OpenAI({ baseURL: upstream.url, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await upstream.close();
});

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('scripted upstream over HTTP with the openai client', () => {
  it('serves a base URL ending in /v1 and lists models', async () => {
    expect(upstream.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('scripted');
  });

  it('answers non-streaming with a chat.completion and usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'any-model',
      messages: [
        { role: 'system', content: 'be nice' },
        { role: 'user', content: '!say Hi from the script' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-\d+$/);
    expect(completion.model).toBe('any-model');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'Hi from the script' });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({ prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
    expect(upstream.requests.at(-1)).toMatchObject({ model: 'any-model', messages: [{ role: 'system' }, { role: 'user' }] });
  });

  it('streams text word by word in the OpenAI chunk format, with usage last when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: '!words 5' }],
    });
    const chunks = await collect(stream);
    expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: 'assistant', content: '' });
    const content = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).join('');
    expect(content).toBe('w1 w2 w3 w4 w5');
    const words = chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '');
    expect(words.map((c) => c.choices[0]?.delta.content)).toEqual(['w1 ', 'w2 ', 'w3 ', 'w4 ', 'w5']);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
    for (const c of chunks) {
      expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'm' });
      expect(c.id).toBe(chunks[0]?.id);
      expect(typeof c.created).toBe('number');
    }
  });

  it('omits usage when streaming without include_usage', async () => {
    const chunks = await collect(await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hey' }] }));
    expect(chunks.every((c) => c.usage == null)).toBe(true);
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
  });

  it('writes the exact SSE framing and ends with [DONE]', async () => {
    const res = await fetch(`${upstream.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: '!say a b' }] }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const raw = await res.text();
    const events = raw.split('\n\n');
    expect(events.pop()).toBe('');
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    expect(events).toHaveLength(1 + 2 + 1 + 1); // role, two words, finish, [DONE]
  });

  it('streams parallel tool calls the OpenAI way (accumulated by the SDK helper)', async () => {
    const stream = client.chat.completions.stream({
      model: 'm',
      messages: [{ role: 'user', content: '!call get_weather {"city":"Paris","unit":"celsius"}\n!call get_time {"tz":"Europe/Paris"}' }],
      tools: [
        { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } },
        { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
      ],
    });
    const chunks: ChatCompletionChunk[] = [];
    stream.on('chunk', (c) => chunks.push(c));
    const final = await stream.finalChatCompletion();
    const message = final.choices[0]?.message;
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(message?.content ?? null).toBeNull();
    const calls = (message?.tool_calls ?? []).map((c) => (c.type === 'function' ? [c.function.name, c.function.arguments] : []));
    expect(calls).toEqual([
      ['get_weather', '{"city":"Paris","unit":"celsius"}'],
      ['get_time', '{"tz":"Europe/Paris"}'],
    ]);
    expect(message?.tool_calls?.every((c) => /^call_/.test(c.id))).toBe(true);
    // First delta of each call carries id/type/name with empty arguments; the rest are ~10-char pieces.
    const firsts = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).filter((t) => t.id !== undefined);
    expect(firsts.map((t) => [t.index, t.type, t.function?.name, t.function?.arguments])).toEqual([
      [0, 'function', 'get_weather', ''],
      [1, 'function', 'get_time', ''],
    ]);
    const pieces = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).filter((t) => t.id === undefined);
    expect(pieces.every((t) => (t.function?.arguments?.length ?? 0) <= 10)).toBe(true);
  });

  it('answers tool calls non-streaming and replies to tool results', async () => {
    const first = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'Please lookup my order status' }],
      tools: [
        { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
        {
          type: 'function',
          function: {
            name: 'lookup_order',
            parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
          },
        },
      ],
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function).toEqual({ name: 'lookup_order', arguments: '{"order_id":"demo"}' });
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');

    const second = await client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'Please lookup my order status' },
        { role: 'assistant', content: null, tool_calls: first.choices[0]?.message.tool_calls ?? [] },
        { role: 'tool', tool_call_id: call?.id ?? '', content: '{"status":"shipped"}' },
      ],
    });
    expect(second.choices[0]?.message.content).toBe('Tool results: {"status":"shipped"}');
  });

  it('truncates at max_tokens with finish_reason length', async () => {
    const completion = await client.chat.completions.create({
      model: 'm',
      max_completion_tokens: 2,
      messages: [{ role: 'user', content: '!words 9' }],
    });
    expect(completion.choices[0]?.message.content).toBe('w1 w2 ');
    expect(completion.choices[0]?.finish_reason).toBe('length');
  });

  it('fails with an OpenAI-shaped error', async () => {
    const err = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '!fail 400' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const apiErr = err as APIError;
    expect(apiErr.status).toBe(400);
    expect(apiErr.error).toEqual({
      message: expect.any(String),
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_request',
    });
  });

  it('!fail 503 2 KEY fails twice, then the client retry succeeds', async () => {
    const retrying = new OpenAI({ baseURL: upstream.url, apiKey: 'x', maxRetries: 2 });
    const key = `k-${Math.random().toString(36).slice(2)}`;
    const before = upstream.requests.length;
    const completion = await retrying.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: `!fail 503 2 ${key}\n!say recovered` }],
    });
    expect(completion.choices[0]?.message.content).toBe('recovered');
    expect(upstream.requests.length - before).toBe(3);
    // The key's budget is spent: the next request succeeds at once.
    const again = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `!fail 503 2 ${key}\n!say ok` }] });
    expect(again.choices[0]?.message.content).toBe('ok');
  }, 20_000);

  it('!cutafter N sends N content chunks and then drops the stream', async () => {
    const stream = await client.chat.completions.create({
      model: 'm',
      stream: true,
      messages: [{ role: 'user', content: '!cutafter 3\n!words 10' }],
    });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) {
        const c = chunk.choices[0]?.delta.content;
        if (c) seen.push(c);
      }
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(seen).toEqual(['w1 ', 'w2 ', 'w3 ']);
  });

  it('!stallafter N sends N content chunks and then holds the connection open, sending nothing', async () => {
    const abort = new AbortController();
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: '!stallafter 1\n!words 10' }] }, { signal: abort.signal });
    const seen: string[] = [];
    let finished = false;
    await (async () => {
      for await (const chunk of stream) {
        const c = chunk.choices[0]?.delta.content;
        if (c) seen.push(c);
        if (chunk.choices[0]?.finish_reason) finished = true;
        // The one chunk arrived: the rest never comes, so the reader gives up on it.
        if (seen.length === 1) setTimeout(() => abort.abort(), 300);
      }
    })().catch(() => undefined);
    // Neither a finish nor a cut: only the reader's own abort ended it.
    expect(abort.signal.aborted).toBe(true);
    expect(finished).toBe(false);
    expect(seen).toEqual(['w1 ']);
  });

  it('!delay waits before each chunk', async () => {
    const started = Date.now();
    const chunks = await collect(await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: '!delay 40\n!say a b' }] }));
    // role + 2 words + finish = 4 chunks, each preceded by the delay
    expect(chunks).toHaveLength(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 40 - 10);
  });

  it('!json yields a JSON object string', async () => {
    const completion = await client.chat.completions.create({
      model: 'm',
      response_format: { type: 'json_object' },
      messages: [{ role: 'user', content: '!json\n!say 42' }],
    });
    expect(JSON.parse(completion.choices[0]?.message.content ?? '')).toEqual({ answer: '42' });
  });

  it('keeps the request log bounded', async () => {
    const own = await startScriptedUpstream();
    try {
      const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: '!say x' }] });
      for (let i = 0; i < 1005; i++) {
        const res = await fetch(`${own.url}/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        await res.arrayBuffer();
      }
      expect(own.requests).toHaveLength(1000);
    } finally {
      await own.close();
    }
  });

  it('rejects bodies without messages and unknown routes', async () => {
    const bad = await fetch(`${upstream.url}/chat/completions`, { method: 'POST', body: '{"model":"m"}' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error', param: null } });
    const missing = await fetch(`${upstream.url}/nope`);
    expect(missing.status).toBe(404);
  });

  it('close() ends streams that are still in flight', async () => {
    const own = await startScriptedUpstream();
    const c = new OpenAI({ baseURL: own.url, apiKey: 'x', maxRetries: 0 });
    const stream = await c.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: '!delay 5000\n!words 3' }] });
    const consumed = collect(stream).then(
      () => 'finished',
      () => 'errored',
    );
    const t0 = Date.now();
    await own.close();
    expect(await consumed).toBe('errored');
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
