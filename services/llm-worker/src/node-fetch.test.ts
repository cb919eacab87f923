import { gzipSync } from 'node:zlib';
import OpenAI, { APIConnectionError, APIUserAbortError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamFixture } from '../test/upstream-fixture.ts';

// The fetch is only worth having if the SDK behaves exactly as with its own: streaming, retries,
// errors, aborts. Every case goes through the real `openai` client against a real HTTP server.
describe('createNodeFetch, under the openai SDK', () => {
  const fx = upstreamFixture();
  const { client, serve, servers } = fx;

  beforeAll(() => fx.open());
  afterAll(() => fx.close());

  it('streams a completion chunk by chunk, with the request body and headers delivered', async () => {
    const stream = await client(fx.upstream.url).chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: '!words 5' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const text: string[] = [];
    let usage = null;
    for await (const chunk of stream) {
      text.push(chunk.choices[0]?.delta.content ?? '');
      usage = chunk.usage ?? usage;
    }
    expect(text.join('')).toBe('w1 w2 w3 w4 w5');
    expect(usage).not.toBeNull();
    expect(fx.upstream.requests.at(-1)).toMatchObject({ model: 'm', stream: true, stream_options: { include_usage: true } });
  });

  it('answers non-streaming calls too', async () => {
    const done = await client(fx.upstream.url).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '!say hi there' }] });
    expect(done.choices[0]?.message.content).toBe('hi there');
  });

  it('lets the SDK retry a 429 and then succeed (status and headers reach it)', async () => {
    let calls = 0;
    const url = await serve((req, res) => {
      calls++;
      req.resume();
      expect(req.headers.authorization).toBe('Bearer k');
      if (calls === 1) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '10' });
        res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error', code: 'rate_limit_exceeded' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'ok' } }] }));
    });
    const done = await client(url, 2).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(done.choices[0]?.message.content).toBe('ok');
    expect(calls).toBe(2);
  });

  it('surfaces an HTTP error with its status and body', async () => {
    const err = await client(fx.upstream.url)
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '!fail 429' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).status).toBe(429);
  });

  it('reports a refused connection as a connection error', async () => {
    const url = await serve(() => {});
    const port = new URL(url).port;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const err = await client(`http://127.0.0.1:${port}/v1`)
      .chat.completions.create({ model: 'm', messages: [] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
  });

  it('fails the iteration when the upstream dies mid-stream', async () => {
    const stream = await client(fx.upstream.url).chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: '!cutafter 2\n!words 10' }],
      stream: true,
    });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen.join('')).not.toContain('w10');
  });

  it('aborts a call in flight when the signal fires, as the default fetch does', async () => {
    // The SDK ends a stream's iteration quietly on abort; both fetches must stop it at the same point.
    for (const c of [client(fx.upstream.url), new OpenAI({ baseURL: fx.upstream.url, apiKey: 'k', maxRetries: 0 })]) {
      const controller = new AbortController();
      const stream = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '!delay 50\n!words 10' }], stream: true }, { signal: controller.signal });
      let chunks = 0;
      const started = Date.now();
      for await (const _ of stream) {
        chunks++;
        controller.abort();
      }
      expect(chunks).toBe(1);
      expect(Date.now() - started).toBeLessThan(400);
    }

    const before = new AbortController();
    before.abort();
    await expect(client(fx.upstream.url).chat.completions.create({ model: 'm', messages: [] }, { signal: before.signal })).rejects.toBeInstanceOf(APIUserAbortError);
  });

  it('decompresses a gzip-encoded answer', async () => {
    const url = await serve((req, res) => {
      req.resume();
      expect(req.headers['accept-encoding']).toContain('gzip');
      const body = JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'zipped' } }] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(body));
    });
    const done = await client(url).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(done.choices[0]?.message.content).toBe('zipped');
  });
});
