import type { Result } from 'ioredis';
import type { RedisClient } from './connection.ts';
import type { Keys } from '@spool/contracts';

/**
 * check_key_limits: admits one request of one API key, or says which limit it hit, atomically
 * across every API replica.
 * KEYS[1] requests (zset: member response id, score ms)   KEYS[2] in flight (zset: id, expiry ms)
 * KEYS[3] background in flight (zset)   KEYS[4] tokens per minute (hash: minute -> tokens)
 * KEYS[5] tokens of today (string)
 * ARGV[1] now ms, ARGV[2] requests_per_minute, ARGV[3] tokens_per_minute, ARGV[4] tokens_per_day,
 * ARGV[5] max_in_flight, ARGV[6] max_background_in_flight (each 0: no limit), ARGV[7] 1 when the
 * request is background, ARGV[8] the response id, ARGV[9] how long an entry counts as in flight (ms)
 * Returns {admitted, reason, requests used, requests reset ms, tokens used, tokens reset ms,
 * retry after ms}; reason 0 none, 1 requests, 2 tokens per minute, 3 tokens per day, 4 in flight,
 * 5 background in flight.
 *
 * Requests are a sliding window of one minute (a log of the last minute's requests). Tokens are
 * only known once a response ends, so a request is admitted while the tokens already spent are
 * under the limit: the minute is a sliding estimate over this minute and the last (the weighted
 * two-window method), the day is the UTC day.
 */
const CHECK = `
local now = tonumber(ARGV[1])
local rpm, tpm, tpd = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxf, maxb = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local used = redis.call('ZCARD', KEYS[1])
local reqReset = 0
if used > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  reqReset = tonumber(oldest[2]) + 60000 - now
end
local minute = math.floor(now / 60000)
local elapsed = now - minute * 60000
local cur = tonumber(redis.call('HGET', KEYS[4], tostring(minute)) or '0')
local prev = tonumber(redis.call('HGET', KEYS[4], tostring(minute - 1)) or '0')
local minuteTokens = math.floor(cur + prev * (60000 - elapsed) / 60000)
local dayTokens = tonumber(redis.call('GET', KEYS[5]) or '0')
local dayReset = 86400000 - (now % 86400000)
local tokUsed, tokReset = minuteTokens, 60000 - elapsed
if tpm == 0 and tpd > 0 then tokUsed, tokReset = dayTokens, dayReset end
local reason, retry = 0, 0
if rpm > 0 and used >= rpm then reason, retry = 1, reqReset
elseif tpm > 0 and minuteTokens >= tpm then reason, retry = 2, 60000 - elapsed
elseif tpd > 0 and dayTokens >= tpd then reason, retry = 3, dayReset
elseif maxf > 0 and redis.call('ZCARD', KEYS[2]) >= maxf then reason, retry = 4, 1000
elseif maxb > 0 and ARGV[7] == '1' and redis.call('ZCARD', KEYS[3]) >= maxb then reason, retry = 5, 1000
end
if reason ~= 0 then return {0, reason, used, reqReset, tokUsed, tokReset, retry} end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[8])
  redis.call('PEXPIRE', KEYS[1], 61000)
  used = used + 1
  if reqReset == 0 then reqReset = 60000 end
end
local ttl = tonumber(ARGV[9])
if maxf > 0 then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[8])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if maxb > 0 and ARGV[7] == '1' then
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[8])
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return {1, 0, used, reqReset, tokUsed, tokReset, 0}
`;

/**
 * settle_response: a sealed response leaves the in-flight sets and its tokens count against the
 * key's token limits and go into its usage of the day.
 * KEYS[1] in flight, KEYS[2] background in flight, KEYS[3] tokens per minute, KEYS[4] tokens of
 * today, KEYS[5] usage hash of today
 * ARGV[1] response id, ARGV[2] now ms, ARGV[3] model, ARGV[4] input, ARGV[5] output,
 * ARGV[6] reasoning, ARGV[7] cached tokens, ARGV[8] usage retention (s)
 */
const SETTLE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local now = tonumber(ARGV[2])
local total = tonumber(ARGV[4]) + tonumber(ARGV[5])
if total > 0 then
  local minute = math.floor(now / 60000)
  redis.call('HINCRBY', KEYS[3], tostring(minute), total)
  redis.call('HDEL', KEYS[3], tostring(minute - 2))
  redis.call('PEXPIRE', KEYS[3], 180000)
  redis.call('INCRBY', KEYS[4], total)
  redis.call('PEXPIRE', KEYS[4], 86400000 * 2)
end
local m = ARGV[3] .. '\\t'
redis.call('HINCRBY', KEYS[5], m .. 'responses', 1)
-- A counter that would not move is not written (readers count a missing one as 0): most responses
-- have no reasoning and no cached tokens, and each call here is work on every response.
local counters = {'input_tokens', 'output_tokens', 'reasoning_tokens', 'cached_tokens'}
for i = 1, 4 do
  if tonumber(ARGV[3 + i]) ~= 0 then redis.call('HINCRBY', KEYS[5], m .. counters[i], ARGV[3 + i]) end
end
redis.call('EXPIRE', KEYS[5], ARGV[8])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    spoolCheckKeyLimits(k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: string[]): Result<number[], Context>;
    spoolSettleResponse(k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: string[]): Result<number, Context>;
  }
}

export interface KeyLimitValues {
  requests_per_minute?: number | undefined;
  tokens_per_minute?: number | undefined;
  tokens_per_day?: number | undefined;
  max_in_flight?: number | undefined;
  max_background_in_flight?: number | undefined;
}

export type LimitReason = 'requests_per_minute' | 'tokens_per_minute' | 'tokens_per_day' | 'max_in_flight' | 'max_background_in_flight';
const REASONS: Array<LimitReason | null> = [null, 'requests_per_minute', 'tokens_per_minute', 'tokens_per_day', 'max_in_flight', 'max_background_in_flight'];

export interface LimitCheck {
  admitted: boolean;
  reason: LimitReason | null;
  requestsUsed: number;
  requestsResetMs: number;
  tokensUsed: number;
  tokensResetMs: number;
  retryAfterMs: number;
}

export interface SettledUsage {
  model: string;
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cachedTokens: number;
}

/** The UTC day of a time, as usage keys name it. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Per-key limits and usage in Redis: one script to admit a request, one to settle a response. */
export class KeyLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (typeof redis.spoolCheckKeyLimits !== 'function') redis.defineCommand('spoolCheckKeyLimits', { numberOfKeys: 5, lua: CHECK });
    if (typeof redis.spoolSettleResponse !== 'function') redis.defineCommand('spoolSettleResponse', { numberOfKeys: 5, lua: SETTLE });
  }

  async check(owner: string, limits: KeyLimitValues, req: { responseId: string; background: boolean; nowMs: number; inFlightTtlMs: number }): Promise<LimitCheck> {
    const k = this.keys.limits(owner);
    const r = await this.redis.spoolCheckKeyLimits(
      k.requests,
      k.inFlight,
      k.background,
      k.tokensMinute,
      k.tokensDay(utcDay(req.nowMs)),
      String(req.nowMs),
      String(limits.requests_per_minute ?? 0),
      String(limits.tokens_per_minute ?? 0),
      String(limits.tokens_per_day ?? 0),
      String(limits.max_in_flight ?? 0),
      String(limits.max_background_in_flight ?? 0),
      req.background ? '1' : '0',
      req.responseId,
      String(req.inFlightTtlMs),
    );
    const n = (i: number) => Number(r[i] ?? 0);
    return { admitted: n(0) === 1, reason: REASONS[n(1)] ?? null, requestsUsed: n(2), requestsResetMs: n(3), tokensUsed: n(4), tokensResetMs: n(5), retryAfterMs: n(6) };
  }

  /** Called once per sealed response (its seal is a compare-and-set, so once). */
  async settle(owner: string, responseId: string, nowMs: number, usage: SettledUsage, retentionDays: number): Promise<void> {
    const k = this.keys.limits(owner);
    const day = utcDay(nowMs);
    await this.redis.spoolSettleResponse(
      k.inFlight,
      k.background,
      k.tokensMinute,
      k.tokensDay(day),
      this.keys.usage(owner, day),
      responseId,
      String(nowMs),
      usage.model.replace(/\t/g, ' ').slice(0, 200),
      String(usage.inputTokens),
      String(usage.outputTokens),
      String(usage.reasoningTokens),
      String(usage.cachedTokens),
      String(retentionDays * 86400),
    );
  }

  /** Takes a response that was admitted but not created out of the in-flight sets. */
  async release(owner: string, responseId: string): Promise<void> {
    const k = this.keys.limits(owner);
    await this.redis.multi().zrem(k.inFlight, responseId).zrem(k.background, responseId).zrem(k.requests, responseId).exec();
  }

  /** One owner's usage on the given days, per model. */
  async usage(owner: string, days: string[]): Promise<Array<{ date: string; model: string; counters: Record<string, number> }>> {
    const pipe = this.redis.pipeline();
    for (const d of days) pipe.hgetall(this.keys.usage(owner, d));
    const results = (await pipe.exec()) ?? [];
    const out: Array<{ date: string; model: string; counters: Record<string, number> }> = [];
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const byModel = new Map<string, Record<string, number>>();
      for (const [field, v] of Object.entries((value ?? {}) as Record<string, string>)) {
        const tab = field.lastIndexOf('\t');
        const model = field.slice(0, tab);
        const counters = byModel.get(model) ?? {};
        counters[field.slice(tab + 1)] = Number(v);
        byModel.set(model, counters);
      }
      for (const [model, counters] of byModel) out.push({ date: days[i] as string, model, counters });
    });
    return out;
  }
}
