import { describe, expect, it } from 'vitest';
import { formatReset, rateLimitHeaders } from './admission.ts';

describe('rate limit headers', () => {
  it('formats resets as OpenAI does', () => {
    expect(formatReset(0)).toBe('0s');
    expect(formatReset(17)).toBe('17ms');
    expect(formatReset(1000)).toBe('1s');
    expect(formatReset(1001)).toBe('2s');
    expect(formatReset(360_000)).toBe('6m0s');
    expect(formatReset(3_723_000)).toBe('1h2m3s');
  });

  it('reports only the limits a key has; tokens per day stand in when there is no per-minute limit', () => {
    const check = { admitted: true, reason: null, requestsUsed: 3, requestsResetMs: 20_000, tokensUsed: 1500, tokensResetMs: 90_000, retryAfterMs: 0 };
    expect(rateLimitHeaders({}, check)).toEqual({});
    expect(rateLimitHeaders({ requests_per_minute: 10 }, check)).toEqual({ 'x-ratelimit-limit-requests': '10', 'x-ratelimit-remaining-requests': '7', 'x-ratelimit-reset-requests': '20s' });
    expect(rateLimitHeaders({ tokens_per_day: 1000 }, check)).toEqual({ 'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '1m30s' });
  });
});
