import { afterAll, describe, expect, it } from 'vitest';
import { KeyLimiter, utcDay } from './limits.ts';
import { redisTestContext } from '../test/context.ts';

/** The per-key limit scripts on a real Redis, at chosen clock values (no waiting). */
const ctx = redisTestContext('redis-limits');
afterAll(() => ctx.close());
const limiter = new KeyLimiter(ctx.redis, ctx.keys);
const T0 = Date.UTC(2026, 11, 2, 10, 0, 0);
const req = (id: string, nowMs: number, background = false) => ({ responseId: id, background, nowMs, inFlightTtlMs: 3_600_000 });

describe('KeyLimiter', () => {
  it('admits requests_per_minute requests in a sliding minute, then says when the oldest leaves', async () => {
    const owner = 'key_rpm';
    const a = await limiter.check(owner, { requests_per_minute: 2 }, req('r1', T0));
    const b = await limiter.check(owner, { requests_per_minute: 2 }, req('r2', T0 + 10_000));
    const c = await limiter.check(owner, { requests_per_minute: 2 }, req('r3', T0 + 20_000));
    expect([a.admitted, b.admitted, c.admitted]).toEqual([true, true, false]);
    expect(b.requestsUsed).toBe(2);
    expect(c).toMatchObject({ reason: 'requests_per_minute', requestsUsed: 2, retryAfterMs: 40_000 });
    // A minute after the first, one slot is free again.
    expect((await limiter.check(owner, { requests_per_minute: 2 }, req('r4', T0 + 60_001))).admitted).toBe(true);
  });

  it('counts a response in flight until it is settled, and background ones apart', async () => {
    const owner = 'key_flight';
    const limits = { max_in_flight: 2, max_background_in_flight: 1 };
    expect((await limiter.check(owner, limits, req('f1', T0, true))).admitted).toBe(true);
    expect(await limiter.check(owner, limits, req('f2', T0, true))).toMatchObject({ admitted: false, reason: 'max_background_in_flight' });
    expect((await limiter.check(owner, limits, req('f3', T0))).admitted).toBe(true);
    expect(await limiter.check(owner, limits, req('f4', T0))).toMatchObject({ admitted: false, reason: 'max_in_flight' });
    await limiter.settle(owner, 'f1', T0 + 1, { model: 'm', inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedTokens: 0 }, 30);
    expect((await limiter.check(owner, limits, req('f5', T0 + 2, true))).admitted).toBe(true);
  });

  it('refuses once settled tokens reach tokens_per_minute or tokens_per_day, and keeps usage per day and model', async () => {
    const owner = 'key_tokens';
    await limiter.settle(owner, 't1', T0, { model: 'gpt-x', inputTokens: 70, outputTokens: 40, reasoningTokens: 5, cachedTokens: 3 }, 30);
    expect(await limiter.check(owner, { tokens_per_minute: 100 }, req('t2', T0 + 1000))).toMatchObject({ admitted: false, reason: 'tokens_per_minute', tokensUsed: 110 });
    expect(await limiter.check(owner, { tokens_per_minute: 1000 }, req('t3', T0 + 1000))).toMatchObject({ admitted: true, tokensUsed: 110 });
    expect(await limiter.check(owner, { tokens_per_day: 100 }, req('t4', T0 + 5 * 60_000))).toMatchObject({ admitted: false, reason: 'tokens_per_day' });
    // Two minutes on, the minute window has forgotten them; the day has not.
    expect((await limiter.check(owner, { tokens_per_minute: 100 }, req('t5', T0 + 125_000))).admitted).toBe(true);
    await limiter.settle(owner, 't6', T0 + 1, { model: 'gpt-x', inputTokens: 1, outputTokens: 2, reasoningTokens: 0, cachedTokens: 0 }, 30);
    const usage = await limiter.usage(owner, [utcDay(T0)]);
    expect(usage).toEqual([{ date: '2026-12-02', model: 'gpt-x', counters: { responses: 2, input_tokens: 71, output_tokens: 42, reasoning_tokens: 5, cached_tokens: 3 } }]);
    expect(await ctx.redis.ttl(ctx.keys.usage(owner, '2026-12-02'))).toBeGreaterThan(29 * 86400);
  });

  it('writes only the usage counters a response moves (a missing one reads as 0)', async () => {
    const owner = 'key_sparse';
    await limiter.settle(owner, 's1', T0, { model: 'm', inputTokens: 3, outputTokens: 4, reasoningTokens: 0, cachedTokens: 0 }, 30);
    expect(await limiter.usage(owner, [utcDay(T0)])).toEqual([{ date: '2026-12-02', model: 'm', counters: { responses: 1, input_tokens: 3, output_tokens: 4 } }]);
  });

  it('admits everything when no limit is set', async () => {
    for (let i = 0; i < 5; i++) expect((await limiter.check('key_free', {}, req(`x${i}`, T0))).admitted).toBe(true);
  });
});
