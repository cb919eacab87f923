import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedUpstream, type ScriptedUpstream } from '@spool/testkit';
import { startTestSpool, untilTerminal, type TestSpool } from './support/spool.ts';

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
        { name: 'lean/*', base_url: routed.url, upstream_model: '{*}', drop_params: ['service_tier', 'reasoning', 'prompt'] },
        { name: 'meta-model', base_url: routed.url, send_metadata: true },
        { name: 'small-window', base_url: routed.url, context_window: 300 },
        { name: 'deepseek/*', base_url: routed.url, upstream_model: '{*}', reasoning_feedback: 'reasoning_content' },
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

type Body = Record<string, unknown> & { messages?: Array<Record<string, unknown>> };
const bodyFor = (marker: string) => lastBody(routed, marker) as Body | undefined;
const outputText = (r: OpenAI.Responses.Response) => r.output.flatMap((i) => (i.type === 'message' ? i.content : []));

describe('every parameter has one fate', () => {
  it('forwards the Responses parameters under their Chat Completions names', async () => {
    const marker = `!say forwarded ${Date.now()}`;
    const r = await client.responses.create({
      model: 'house-model',
      input: marker,
      reasoning: { effort: 'high' },
      text: { verbosity: 'low' },
      service_tier: 'flex',
      top_logprobs: 2,
      include: ['message.output_text.logprobs'],
      user: 'user-1',
      safety_identifier: 'safety-1',
      prompt_cache_key: 'cache-1',
      prompt_cache_retention: '24h',
      temperature: 0.5,
      top_p: 0.9,
      max_output_tokens: 50,
      metadata: { team: 'a' },
    });
    expect(bodyFor(marker)).toMatchObject({
      reasoning_effort: 'high',
      verbosity: 'low',
      service_tier: 'flex',
      logprobs: true,
      top_logprobs: 2,
      user: 'user-1',
      safety_identifier: 'safety-1',
      prompt_cache_key: 'cache-1',
      prompt_cache_retention: '24h',
      temperature: 0.5,
      top_p: 0.9,
      max_completion_tokens: 50,
    });
    // metadata stays Spool's (echoed) unless the route says its upstream takes it.
    expect(bodyFor(marker)).not.toHaveProperty('metadata');
    expect(r.metadata).toEqual({ team: 'a' });
    const [part] = outputText(r);
    expect(part?.type === 'output_text' && part.logprobs?.length).toBe(2);
    expect(part?.type === 'output_text' && part.logprobs?.[0]).toMatchObject({ token: 'forwarded ', logprob: -0.25, top_logprobs: [{ token: 'forwarded ' }, { token: 'alt1' }] });

    const metaMarker = `!say meta ${Date.now()}`;
    await client.responses.create({ model: 'meta-model', input: metaMarker, metadata: { team: 'b' } });
    expect(bodyFor(metaMarker)).toMatchObject({ metadata: { team: 'b' } });
  });

  it('streams logprobs on the text deltas when include asks for them', async () => {
    const stream = client.responses.stream({ model: 'house-model', input: '!say two words', include: ['message.output_text.logprobs'] });
    const deltas: Array<{ logprobs: unknown[] }> = [];
    for await (const e of stream) if (e.type === 'response.output_text.delta') deltas.push(e);
    expect(deltas.map((d) => d.logprobs.length)).toEqual([1, 1]);
    const [part] = outputText(await stream.finalResponse());
    expect(part?.type === 'output_text' && part.logprobs?.map((l) => l.token)).toEqual(['two ', 'words']);
  });

  it('drops a parameter silently only where the route lists it in drop_params', async () => {
    const marker = `!say lean ${Date.now()}`;
    const r = await client.responses.create({
      model: 'lean/small',
      input: marker,
      service_tier: 'flex',
      reasoning: { effort: 'low', summary: 'detailed' },
      prompt: { id: 'pmpt_1' },
      user: 'kept',
    });
    expect(r.status).toBe('completed');
    const body = bodyFor(marker);
    expect(body).not.toHaveProperty('service_tier');
    expect(body).not.toHaveProperty('reasoning_effort');
    expect(body).toMatchObject({ model: 'small', user: 'kept' });
  });

  it('refuses what it cannot honour with a 400 that names the parameter', async () => {
    const refused = async (body: Record<string, unknown>) => {
      const err = await client.responses.create({ model: 'house-model', input: 'hi', ...body } as never).catch((e: unknown) => e);
      expect(err, JSON.stringify(body)).toBeInstanceOf(OpenAI.BadRequestError);
      return (err as InstanceType<typeof OpenAI.BadRequestError>).param;
    };
    expect(await refused({ prompt: { id: 'pmpt_1' } })).toBe('prompt');
    expect(await refused({ include: ['message.output_text.logprobs', 'file_search_call.results'] })).toBe('include[1]');
    expect(await refused({ reasoning: { summary: 'detailed' } })).toBe('reasoning.summary');
    expect(await refused({ truncation: 'auto' })).toBe('truncation');
    // Compaction is served (see the WebSocket/compaction suite), but needs its threshold.
    expect(await refused({ context_management: [{ type: 'compaction' }] })).toBe('context_management[0].compact_threshold');
    expect(await refused({ stream_options: { include_obfuscation: true } })).toBe('stream_options.include_obfuscation');
  });

  it("truncation auto drops the oldest context to fit the route's context_window", async () => {
    const old = `old context ${'x'.repeat(2000)}`;
    const marker = `!say fitted ${Date.now()}`;
    const input: OpenAI.Responses.ResponseInput = [
      { role: 'user', content: old },
      { role: 'assistant', content: 'noted' },
      { role: 'user', content: marker },
    ];
    const r = await client.responses.create({ model: 'small-window', instructions: 'be brief', input, truncation: 'auto' });
    expect(r.truncation).toBe('auto');
    const sent = JSON.stringify(bodyFor(marker)?.messages);
    expect(sent).not.toContain('old context');
    expect(sent).toContain('be brief');
    expect(sent).toContain(marker);
    // Without truncation everything is sent (and an upstream that overflows answers with its own 400).
    const whole = `!say whole ${Date.now()}`;
    await client.responses.create({ model: 'small-window', input: [input[0]!, input[1]!, { role: 'user', content: whole }] });
    expect(JSON.stringify(bodyFor(whole)?.messages)).toContain('old context');
  });
});

describe('reasoning items', () => {
  it('streams upstream reasoning_content as a reasoning item before the message, through the SDK stream helper', async () => {
    const stream = client.responses.stream({ model: 'house-model', input: '!think Let me weigh this carefully\n!say The answer' });
    const types: string[] = [];
    let reasoningDelta = '';
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.reasoning_text.delta') reasoningDelta += e.delta;
    }
    const final = await stream.finalResponse();
    expect(final.output.map((i) => i.type)).toEqual(['reasoning', 'message']);
    const reasoning = final.output[0] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.content).toEqual([{ type: 'reasoning_text', text: 'Let me weigh this carefully' }]);
    expect(reasoningDelta).toBe('Let me weigh this carefully');
    expect(final.output_text).toBe('The answer');
    expect(types).toContain('response.reasoning_text.done');
    expect(types.indexOf('response.reasoning_text.done')).toBeLessThan(types.indexOf('response.output_text.delta'));
    const usage = final.usage!;
    expect(usage.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(usage.output_tokens_details.reasoning_tokens).toBeLessThanOrEqual(usage.output_tokens);
    expect(await client.responses.retrieve(final.id)).toMatchObject({ output: [{ type: 'reasoning', content: [{ text: 'Let me weigh this carefully' }] }, { type: 'message' }] });
  });

  it("reads the other servers' fields too (reasoning, reasoning_details), streamed or not", async () => {
    for (const field of ['reasoning', 'reasoning_details', 'reasoning_content']) {
      const input = `!thinkfield ${field}\n!think Thinking via ${field}\n!say ok`;
      const whole = await client.responses.create({ model: 'house-model', input });
      expect(whole.output[0], field).toMatchObject({ type: 'reasoning', content: [{ type: 'reasoning_text', text: `Thinking via ${field}` }] });
      const streamed = await client.responses.stream({ model: 'house-model', input }).finalResponse();
      expect(streamed.output[0], field).toMatchObject({ type: 'reasoning', content: [{ text: `Thinking via ${field}` }] });
    }
  });

  it('feeds reasoning back on later turns where the route expects it, and leaves it out elsewhere', async () => {
    for (const [model, expectField] of [
      ['deepseek/deepseek-reasoner', true],
      ['house-model', false],
    ] as const) {
      const first = await client.responses.create({ model, input: '!think Step one\n!say First' });
      const marker = `!say second ${model} ${Date.now()}`;
      await client.responses.create({ model, input: marker, previous_response_id: first.id });
      const assistant = bodyFor(marker)?.messages?.find((m) => m.role === 'assistant');
      expect(assistant?.content).toBe('First');
      if (expectField) expect(assistant?.reasoning_content).toBe('Step one');
      else expect(assistant).not.toHaveProperty('reasoning_content');
    }
  });
});

describe('reasoning through Chat Completions', () => {
  it('comes back as reasoning_content, on the message and on stream deltas, as LiteLLM returns it', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: '!think Chat reasoning\n!say Chat answer' }];
    const whole = await client.chat.completions.create({ model: 'house-model', messages });
    expect(whole.choices[0]?.message).toMatchObject({ content: 'Chat answer', reasoning_content: 'Chat reasoning' });
    let streamed = '';
    for await (const c of await client.chat.completions.create({ model: 'house-model', messages, stream: true })) {
      streamed += (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
    }
    expect(streamed).toBe('Chat reasoning');
  });
});

describe('upstream errors keep their meaning', () => {
  it('a synchronous request gets the upstream 400/404/413/422 as that status, with its message', async () => {
    const cases = [
      [400, OpenAI.BadRequestError],
      [404, OpenAI.NotFoundError],
      [413, OpenAI.APIError],
      [422, OpenAI.UnprocessableEntityError],
    ] as const;
    for (const [status, cls] of cases) {
      const err = await client.responses.create({ model: 'house-model', input: `!fail ${status}` }).catch((e: unknown) => e);
      expect(err, String(status)).toBeInstanceOf(cls);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
      expect((err as Error).message).toContain('Scripted failure');
    }
    const chat = await client.chat.completions.create({ model: 'house-model', messages: [{ role: 'user', content: '!fail 404' }] }).catch((e: unknown) => e);
    expect(chat).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("429 passes the upstream's Retry-After on; 401/403 and 5xx are a 502 that says whose fault it is", async () => {
    const limited = await fetch(`${spool.url}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-litellm-api-key': `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'house-model', input: '!fail 429\n!retryafter 7' }),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await limited.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });

    const auth = await client.responses.create({ model: 'house-model', input: '!fail 401' }).catch((e: unknown) => e);
    expect(auth).toMatchObject({ status: 502 });
    expect((auth as Error).message).toMatch(/credentials/);
    const server = await client.responses.create({ model: 'house-model', input: '!fail 500' }).catch((e: unknown) => e);
    expect(server).toMatchObject({ status: 502 });
  });

  it('streams and background responses end failed with the closest Responses error code', async () => {
    const events: Array<{ type: string; response?: OpenAI.Responses.Response }> = [];
    for await (const e of await client.responses.create({ model: 'house-model', input: '!fail 400', stream: true })) events.push(e);
    const failed = events.at(-1);
    expect(failed?.type).toBe('response.failed');
    expect(failed?.response?.error).toMatchObject({ code: 'invalid_prompt', message: expect.stringContaining('Scripted failure') });

    const bg = await client.responses.create({ model: 'house-model', input: '!fail 429', background: true });
    expect((await untilTerminal(client, bg.id)).error?.code).toBe('rate_limit_exceeded');
  });
});
