import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleValue } from './support/prometheus.ts';
import { startTestSpool, untilTerminal, type TestSpool } from './support/spool.ts';

/**
 * Per-key limits and usage, enforced in Redis and seen through the official `openai` client: a 429
 * `rate_limit_exceeded` with OpenAI's headers when a key is over, the same headers on success.
 */
let spool: TestSpool;
const keys = {
  plain: 'plain-key',
  rpm: 'rpm-key',
  background: 'bg-key',
  tokens: 'tokens-key',
  flight: 'flight-key',
};

beforeAll(async () => {
  spool = await startTestSpool({
    name: 'limits',
    file: {
      api_keys: [
        keys.plain,
        { name: 'rpm', key: keys.rpm, limits: { requests_per_minute: 2 } },
        { name: 'background', key: keys.background, limits: { max_background_in_flight: 1 } },
        { name: 'tokens', key: keys.tokens, limits: { tokens_per_minute: 5 } },
        { name: 'flight', key: keys.flight, limits: { max_in_flight: 1 } },
      ],
      admin_keys: ['admin-key'],
    },
    apiKey: keys.plain,
  });
});
afterAll(() => spool?.close());

async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const res = await fetch(`${spool.url}/metrics`, { headers: { Authorization: 'Bearer admin-key' } });
  return sampleValue(await res.text(), name, labels);
}

describe('per-key limits', () => {
  it('reports what is left on success and refuses the third request in a minute with a 429 the SDK understands', async () => {
    const client = spool.clientWith(keys.rpm);
    const first = await client.responses.create({ model: 'm', input: 'one' }).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(first.response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s)$|^\d+m\d+s$/);
    const second = await client.responses.create({ model: 'm', input: 'two' }).withResponse();
    expect(second.response.headers.get('x-ratelimit-remaining-requests')).toBe('0');

    const err = await client.responses.create({ model: 'm', input: 'three' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.type).toBe('requests');
    expect(e.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests', param: null });
    expect(e.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(Number(e.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(e.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await metric('spool_rate_limited_total', { key_name: 'rpm' })).toBe(1);
    // Chat Completions shares the same limits.
    await expect(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('leaves a key without limits alone: no headers, no refusals', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await spool.client.responses.create({ model: 'm', input: `n${i}` }).withResponse();
      expect(r.response.headers.get('x-ratelimit-limit-requests')).toBeNull();
    }
  });

  it('allows max_background_in_flight background responses at a time, and one more once one is sealed', async () => {
    const client = spool.clientWith(keys.background);
    const slow = await client.responses.create({ model: 'm', input: '!delay 1000\n!words 2', background: true });
    const refused = await client.responses.create({ model: 'm', input: 'again', background: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as Error).message).toMatch(/background responses in flight/);
    // A synchronous response is not a background one.
    expect((await client.responses.create({ model: 'm', input: 'sync' })).status).toBe('completed');
    expect((await untilTerminal(client, slow.id)).status).toBe('completed');
    const next = await client.responses.create({ model: 'm', input: 'now', background: true });
    expect((await untilTerminal(client, next.id)).status).toBe('completed');
  });

  it("lets the SDK's own retry honour Retry-After: a request refused while the key's one slot is busy succeeds when it frees", async () => {
    const busy = await spool.clientWith(keys.flight).responses.create({ model: 'm', input: '!delay 500\n!words 2', background: true });
    const patient = new OpenAI({ baseURL: spool.baseURL, apiKey: keys.flight, maxRetries: 8, timeout: 30_000 });
    const done = await patient.responses.create({ model: 'm', input: 'after you' });
    expect(done.status).toBe('completed');
    expect((await untilTerminal(spool.clientWith(keys.flight), busy.id)).status).toBe('completed');
    expect(await metric('spool_rate_limited_total', { key_name: 'flight' })).toBeGreaterThanOrEqual(1);
  });

  it('refuses with type tokens once the tokens spent this minute reach tokens_per_minute', async () => {
    const client = spool.clientWith(keys.tokens);
    const first = await client.responses.create({ model: 'm', input: '!words 8' });
    expect(first.usage!.total_tokens).toBeGreaterThan(5);
    const err = await client.responses.create({ model: 'm', input: 'more' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).type).toBe('tokens');
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('x-ratelimit-limit-tokens')).toBe('5');
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('x-ratelimit-remaining-tokens')).toBe('0');
  });
});

describe('GET /v1/usage', () => {
  it('gives admins tokens and response counts per key, day and model; others are refused', async () => {
    const client = spool.clientWith(keys.plain);
    const made = [await client.responses.create({ model: 'usage-model', input: '!words 3' }), await client.responses.create({ model: 'usage-model', input: '!words 4' })];
    const res = await fetch(`${spool.baseURL}/usage?key_name=key-1`, { headers: { Authorization: 'Bearer admin-key' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: Array<Record<string, unknown>> };
    expect(body.object).toBe('list');
    const row = body.data.find((r) => r.model === 'usage-model');
    expect(row).toMatchObject({
      key_name: 'key-1',
      date: new Date().toISOString().slice(0, 10),
      responses: 2,
      input_tokens: made.reduce((n, r) => n + r.usage!.input_tokens, 0),
      output_tokens: made.reduce((n, r) => n + r.usage!.output_tokens, 0),
      reasoning_tokens: 0,
      cached_tokens: 0,
    });
    expect(body.data.every((r) => r.key_name === 'key-1')).toBe(true);
    // Served without /v1 as well.
    expect((await fetch(`${spool.url}/usage`, { headers: { Authorization: 'Bearer admin-key' } })).status).toBe(200);
    const userTry = await fetch(`${spool.baseURL}/usage`, { headers: { Authorization: `Bearer ${keys.plain}` } });
    expect(userTry.status).toBe(403);
    expect(((await userTry.json()) as { error: { code: string } }).error.code).toBe('admin_required');
    expect((await fetch(`${spool.baseURL}/usage`)).status).toBe(401);
    const bad = await fetch(`${spool.baseURL}/usage?days=0`, { headers: { Authorization: 'Bearer admin-key' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('days');
  });
});

describe('global admission', () => {
  it('refuses new work with 503 and Retry-After once the turn queue is past max_queue_depth, background creates included', async () => {
    // No llm role: turn jobs wait, so the backlog is exact.
    const api = await startTestSpool({ name: 'admission', env: { SPOOL_ROLES: 'api' }, file: { limits: { max_queue_depth: 2 } } });
    try {
      await api.client.responses.create({ model: 'm', input: 'a', background: true });
      await api.client.responses.create({ model: 'm', input: 'b', background: true });
      const err = await api.client.responses.create({ model: 'm', input: 'c', background: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      const e = err as InstanceType<typeof OpenAI.InternalServerError>;
      expect(e.status).toBe(503);
      expect(e.code).toBe('server_overloaded');
      expect(e.headers.get('retry-after')).toBe('5');
      const scrape = await (await fetch(`${api.url}/metrics`)).text();
      expect(sampleValue(scrape, 'spool_admission_rejected_total')).toBe(1);
      expect(sampleValue(scrape, 'spool_queue_jobs', { queue: 'turns', state: 'waiting' })).toBe(2);
      const overview = (await (await fetch(`${api.url}/console/api/overview`)).json()) as { admission: { maxQueueDepth: number; rejected: number } };
      expect(overview.admission).toEqual({ maxQueueDepth: 2, rejected: 1 });
    } finally {
      await api.close();
    }
  });
});
