import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedUpstream, type ScriptedUpstream } from '@spool/testkit';
import { startTestSpool, type TestSpool } from './support/spool.ts';

/**
 * Clients written for LiteLLM, unchanged but for their URL: the base URL without `/v1`,
 * `x-litellm-api-key: Bearer …`, provider-prefixed model names. Through the official `openai`
 * client; the scripted upstreams record each body, so the tests assert what reached the model.
 */
let spool: TestSpool;
/** The upstream behind the provider routes (the default upstream is `spool.upstream`). */
let routed: ScriptedUpstream;
let client: OpenAI;
const KEY = 'sk-litellm-1234';

beforeAll(async () => {
  routed = await startScriptedUpstream();
  spool = await startTestSpool({
    name: 'litellm',
    env: { SPOOL_API_KEYS: KEY },
    apiKey: KEY,
    file: {
      models: [
        { name: 'openai/*', base_url: routed.url, upstream_model: '{*}' },
        { name: 'anthropic/*', base_url: routed.url, upstream_model: '{*}' },
        { name: 'ollama/*', base_url: routed.url, upstream_model: '{*}' },
        { name: 'house-model', base_url: routed.url, upstream_model: 'scripted' },
      ],
      limits: { upstream_max_retries: 0 },
    },
  });
  // As LiteLLM's guide writes it: no `/v1`, the key in x-litellm-api-key with `Bearer `.
  client = new OpenAI({ baseURL: spool.url, apiKey: 'anything', defaultHeaders: { 'x-litellm-api-key': `Bearer ${KEY}` }, maxRetries: 0 });
});
afterAll(async () => {
  await spool?.close();
  await routed?.close();
});

const lastBody = (u: ScriptedUpstream, marker: string) => u.requests.findLast((q) => JSON.stringify(q.messages).includes(marker));

describe('paths without /v1', () => {
  it('serves responses, chat completions, polls and models at the bare base URL', async () => {
    const r = await client.responses.create({ model: 'house-model', input: '!say bare path' });
    expect(r.output_text).toBe('bare path');
    expect((await client.responses.retrieve(r.id)).id).toBe(r.id);
    const chat = await client.chat.completions.create({ model: 'house-model', messages: [{ role: 'user', content: '!say chat path' }] });
    expect(chat.choices[0]?.message.content).toBe('chat path');
    const streamed = await client.responses.stream({ model: 'house-model', input: '!say streamed path' }).finalResponse();
    expect(streamed.output_text).toBe('streamed path');
    const unknown = await fetch(`${spool.url}/nothing-here`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'unknown_url' } });
    expect((await fetch(`${spool.url}/healthz`)).status).toBe(200);
  });
});

describe('keys', () => {
  it('accepts x-litellm-api-key and api-key bare or as Bearer', async () => {
    for (const [header, value] of [
      ['x-litellm-api-key', `Bearer ${KEY}`],
      ['x-litellm-api-key', KEY],
      ['api-key', `Bearer ${KEY}`],
      ['api-key', KEY],
    ] as const) {
      // Under /v1, so that only the header is under test.
      const res = await fetch(`${spool.baseURL}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [header]: value },
        body: JSON.stringify({ model: 'house-model', input: '!say ok' }),
      });
      expect(res.status, `${header}: ${value}`).toBe(200);
    }
    const wrong = await fetch(`${spool.url}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-litellm-api-key': 'Bearer sk-wrong' },
      body: JSON.stringify({ model: 'house-model', input: '!say ok' }),
    });
    expect(wrong.status).toBe(401);
  });
});

describe('provider prefixes', () => {
  it('one route per provider: the part the glob matched is the upstream model', async () => {
    for (const [model, upstreamModel] of [
      ['anthropic/claude-3-5-sonnet-latest', 'claude-3-5-sonnet-latest'],
      ['openai/gpt-4o', 'gpt-4o'],
      ['ollama/llama3.1:8b', 'llama3.1:8b'],
    ]) {
      const marker = `!say routed ${model}`;
      const r = await client.responses.create({ model: model as string, input: marker });
      expect(r.model).toBe(model);
      expect(lastBody(routed, marker)?.model).toBe(upstreamModel);
    }
  });

  it('refuses a model name longer than limits.max_model_length with a 400 naming model', async () => {
    const err = await client.responses.create({ model: `openai/${'x'.repeat(300)}`, input: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('model');
  });
});

describe('GET /v1/models', () => {
  it("lists the routes' exact names and the default upstream's models, in the OpenAI list shape", async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) {
      expect(m.object).toBe('model');
      ids.push(m.id);
    }
    expect(ids).toEqual(expect.arrayContaining(['house-model', 'scripted', 'gpt-4o-mini']));
    expect(ids.some((id) => id.includes('*'))).toBe(false);
    expect((await client.models.retrieve('house-model')).id).toBe('house-model');
    expect((await client.models.retrieve('gpt-4o-mini')).owned_by).toBe('spool-testkit');
    expect((await client.models.retrieve('anthropic/claude-3-5-sonnet-latest')).id).toBe('anthropic/claude-3-5-sonnet-latest');
    const viaV1 = await fetch(`${spool.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(((await viaV1.json()) as { object: string }).object).toBe('list');
  });
});
