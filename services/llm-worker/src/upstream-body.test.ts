import { gzipSync } from 'node:zlib';
import OpenAI, { APIError, RateLimitError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamFixture } from '../test/upstream-fixture.ts';
import { completeChat, streamChat } from './upstream.ts';
import { SseParser, UpstreamIdleError } from './upstream-body.ts';

describe('SseParser', () => {
  const wire = 'event: a\r\ndata: {"x":1}\r\n\r\n: comment\n\ndata: line1\ndata: line2\n\nid: 7\rdata:nospace\r\rdata: é😀\n\n';
  const expected = [
    { event: 'a', data: '{"x":1}' },
    { event: null, data: 'line1\nline2' },
    { event: null, data: 'nospace' },
    { event: null, data: 'é😀' },
  ];

  it('parses CRLF, LF and CR line ends, multi-line data, comments and unknown fields', () => {
    expect(new SseParser().push(Buffer.from(wire))).toEqual(expected);
  });

  it('gives the same events however the bytes are split, including inside CRLF and UTF-8 characters', () => {
    const bytes = Buffer.from(wire);
    for (let cut = 1; cut < bytes.length; cut++) {
      const p = new SseParser();
      expect([...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))]).toEqual(expected);
    }
    const p = new SseParser();
    const oneByOne = [...bytes].flatMap((b) => p.push(Buffer.from([b])));
    expect(oneByOne).toEqual(expected);
  });

  it('dispatches nothing for an event that is not ended by a blank line', () => {
    expect(new SseParser().push('data: {"unfinished":true}\n')).toEqual([]);
  });
});

// The SDK makes the call; upstream-body.ts reads it. Every case goes through the real `openai`
// client against a real HTTP server, and must behave as the SDK's own decoder does.
describe('streamChat and completeChat, through the openai SDK', () => {
  const fx = upstreamFixture();
  const { client, serve } = fx;
  const params = (content: string) => ({ model: 'm', messages: [{ role: 'user' as const, content }], stream: true as const, stream_options: { include_usage: true } });

  beforeAll(() => fx.open());
  afterAll(() => fx.close());

  async function collect(c: OpenAI, p: ReturnType<typeof params>, signal = new AbortController().signal, idleMs?: number): Promise<ChatCompletionChunk[]> {
    const out: ChatCompletionChunk[] = [];
    await streamChat(c, p, signal, (chunks) => out.push(...chunks), idleMs);
    return out;
  }

  it('yields exactly the chunks the SDK own stream decoder yields', async () => {
    // Ids and times differ from call to call; everything else must match.
    const strip = (cs: ChatCompletionChunk[]) => JSON.parse(JSON.stringify(cs.map(({ id: _id, created: _c, ...rest }) => rest)).replace(/"call_[\w-]+"/g, '"call"')) as unknown;
    for (const [prompt, atLeast] of [
      ['!words 12', 12],
      ['!call get_weather {"city":"Paris"}\n!call get_time {}', 3],
    ] as const) {
      const ours = await collect(client(fx.upstream.url), params(prompt));
      const theirs: ChatCompletionChunk[] = [];
      for await (const chunk of await client(fx.upstream.url).chat.completions.create(params(prompt))) theirs.push(chunk);
      expect(ours.length).toBeGreaterThan(atLeast);
      expect(strip(ours)).toEqual(strip(theirs));
    }
  });

  it('reads the same way from a body that is not a node stream (the global fetch)', async () => {
    const chunks = await collect(new OpenAI({ baseURL: fx.upstream.url, apiKey: 'k', maxRetries: 0 }), params('!words 5'));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('w1 w2 w3 w4 w5');
  });

  it('reads gzip-encoded streams', async () => {
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      res.end(gzipSync('data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"zipped"},"finish_reason":null}]}\n\ndata: [DONE]\n\n'));
    });
    const chunks = await collect(client(url), params('x'));
    expect(chunks.map((c) => c.choices[0]?.delta.content)).toEqual(['zipped']);
  });

  it('stops at [DONE], and throws APIError for error events and error chunks, as the SDK does', async () => {
    const sse = (body: string) =>
      serve((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(body);
      });
    const chunk = 'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[]}\n\n';
    expect(await collect(client(await sse(`${chunk}data: [DONE]\n\n${chunk}`)), params('x'))).toHaveLength(1);
    for (const body of [`${chunk}event: error\ndata: {"error":{"message":"boom"}}\n\n`, `${chunk}data: {"error":{"message":"boom","type":"server_error"}}\n\n`]) {
      const url = await sse(body);
      const err = await collect(client(url), params('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect((err as APIError).message).toContain('boom');
    }
    const bad = await collect(client(await sse('data: {not json\n\n')), params('x')).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(SyntaxError);
  });

  it('leaves HTTP errors, and their retries, to the SDK', async () => {
    const err = await collect(client(fx.upstream.url), params('!fail 429')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    const ok = await collect(client(fx.upstream.url, 2), params('!fail 503 1 body-retry\n!words 3'));
    expect(ok.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('w1 w2 w3');
  });

  it('fails when the upstream dies mid-stream, and stops at once when the signal fires', async () => {
    const cut = await collect(client(fx.upstream.url), params('!cutafter 2\n!words 10')).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(Error);

    const controller = new AbortController();
    const started = Date.now();
    let seen = 0;
    const aborted = await streamChat(client(fx.upstream.url), params('!delay 50\n!words 10'), controller.signal, (chunks) => {
      seen += chunks.length;
      controller.abort();
    }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(Error);
    expect(controller.signal.aborted).toBe(true);
    expect(seen).toBeLessThan(3);
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('fails with UpstreamIdleError once a body that sent headers and a chunk stays quiet for the idle timeout, on either body path', async () => {
    for (const c of [client(fx.upstream.url), new OpenAI({ baseURL: fx.upstream.url, apiKey: 'k', maxRetries: 0 })]) {
      let seen = 0;
      const err = await streamChat(c, params('!stallafter 1\n!words 10'), new AbortController().signal, (chunks) => (seen += chunks.length), 200).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamIdleError);
      expect((err as UpstreamIdleError).message).toMatch(/went quiet: no data for 200 ms/);
      // The role chunk and the first word came before the stall.
      expect(seen).toBe(2);
    }
    // A slow body that keeps sending is not idle, however long it takes in all.
    const slow = await collect(client(fx.upstream.url), params('!delay 60\n!words 8'), undefined, 200);
    expect(slow.length).toBeGreaterThan(8);
  });

  it('answers non-streamed calls with the completion', async () => {
    const { stream: _s, stream_options: _o, ...whole } = params('!say hi there');
    const done = await completeChat(client(fx.upstream.url), { ...whole, stream: false }, new AbortController().signal);
    expect(done.choices[0]?.message.content).toBe('hi there');
    const err = await completeChat(client(fx.upstream.url), { ...whole, messages: [{ role: 'user', content: '!fail 500' }], stream: false }, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(500);
  });
});
