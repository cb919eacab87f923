import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSpool, untilTerminal, type TestSpool } from './support/spool.ts';

/** API keys: 401 without a valid key; every response belongs to the key that created it. */
let spool: TestSpool;

beforeAll(async () => {
  spool = await startTestSpool({ name: 'auth', env: { SPOOL_API_KEYS: 'key-a, key-b' }, apiKey: 'key-a' });
});
afterAll(async () => {
  await spool?.close();
});

describe('API keys', () => {
  it('answers 401 for a missing or wrong key, in the OpenAI shape', async () => {
    const missing = await fetch(`${spool.baseURL}/responses/resp_x`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key' } });
    await expect(spool.clientWith('wrong').responses.create({ model: 'm', input: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('accepts LiteLLM and Azure header names', async () => {
    for (const header of ['x-litellm-api-key', 'api-key']) {
      const res = await fetch(`${spool.baseURL}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [header]: 'key-b' },
        body: JSON.stringify({ model: 'm', input: '!say ok' }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('completed');
    }
  });

  it("hides one key's responses from another: 404 on GET, on stream, on input_items and through previous_response_id", async () => {
    const a = await spool.client.responses.create({ model: 'm', input: 'secret prompt', background: true });
    await untilTerminal(spool.client, a.id);
    const b = spool.clientWith('key-b');
    await expect(b.responses.retrieve(a.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const stream = await fetch(`${spool.baseURL}/responses/${a.id}?stream=true`, { headers: { authorization: 'Bearer key-b' } });
    expect(stream.status).toBe(404);
    await expect(b.responses.inputItems.list(a.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(b.responses.cancel(a.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const chained = await b.responses.create({ model: 'm', input: 'what did they say?', previous_response_id: a.id }).catch((e: unknown) => e);
    expect(chained).toMatchObject({ status: 400, code: 'previous_response_not_found' });
    // The owner still sees it.
    expect((await spool.client.responses.retrieve(a.id)).id).toBe(a.id);
  });
});

describe('no keys configured', () => {
  it('serves loopback clients (the only ones a test can be)', async () => {
    const open = await startTestSpool({ name: 'nokeys' });
    try {
      const r = await open.clientWith('anything').responses.create({ model: 'm', input: '!say hi' });
      expect(r.output_text).toBe('hi');
    } finally {
      await open.close();
    }
  });
});
