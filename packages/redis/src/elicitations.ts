import type { Result } from 'ioredis';
import type { RedisClient } from './connection.ts';
import { ElicitationAnswerSchema, HeldCallStepSchema, ParkedElicitationSchema, type ElicitationAnswer, type HeldCallStep, type Keys, type ParkedElicitation } from '@spool/contracts';

/**
 * claim_elicitation: takes a parked elicitation's answer slot exactly once.
 * KEYS[1] the elicitation hash
 * ARGV[1] claimant (the follow-up response id)
 * Returns {1, parked JSON} for the one claimant that wins, {0, previous claimant} when it was
 * already answered, {-1} when nothing is parked (expired, never parked), {-2, parked JSON} when the
 * executor already gave up waiting (the call was cancelled on timeout).
 */
const CLAIM = `
local v = redis.call('HGET', KEYS[1], 'parked')
if not v then return {-1} end
if redis.call('HEXISTS', KEYS[1], 'used') == 1 then return {0, redis.call('HGET', KEYS[1], 'used')} end
if redis.call('HEXISTS', KEYS[1], 'answer') == 1 then return {-2, v} end
redis.call('HSET', KEYS[1], 'used', ARGV[1])
return {1, v}
`;

/**
 * unclaim_elicitation: gives back a claim, only if this claimant holds it and no answer was handed over.
 * KEYS[1] the elicitation hash
 * ARGV[1] claimant
 */
const UNCLAIM = `
if redis.call('HGET', KEYS[1], 'used') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'answer') == 0 then
  return redis.call('HDEL', KEYS[1], 'used')
end
return 0
`;

/** The console lists at most this many waiting questions. */
const MAX_LISTED = 2000;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    spoolClaimElicitation(key: string, claimant: string): Result<[number, string?], Context>;
    spoolUnclaimElicitation(key: string, claimant: string): Result<number, Context>;
  }
}

/** The response and `mcp_call` item that resumed a parked call. */
export interface ResumedBy {
  responseId: string;
  itemId: string;
}

export type ElicitationClaim = { kind: 'claimed'; parked: ParkedElicitation } | { kind: 'used'; by: string } | { kind: 'missing' } | { kind: 'expired'; parked: ParkedElicitation };

/**
 * Calls parked on an MCP elicitation. The executor holding the call parks it and renews a holder
 * lease while it waits; the API claims the answer slot once (`used`); the resume job hands the
 * answer over (`answer`, set once: the executor's timeout sets it too, so exactly one of them wins)
 * and waits for the call's next step (`result`), which the holder writes.
 */
export class ElicitationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (typeof redis.spoolClaimElicitation !== 'function') redis.defineCommand('spoolClaimElicitation', { numberOfKeys: 1, lua: CLAIM });
    if (typeof redis.spoolUnclaimElicitation !== 'function') redis.defineCommand('spoolUnclaimElicitation', { numberOfKeys: 1, lua: UNCLAIM });
  }

  /** Parks a question (kept `ttlSeconds`, the response's retention, so a replayed answer is still recognised) and takes the holder lease. */
  async park(parked: ParkedElicitation, ttlSeconds: number, holder: string, leaseMs: number): Promise<void> {
    const key = this.keys.elicitation(parked.elicitationId);
    await this.redis.multi().hset(key, 'parked', JSON.stringify(parked)).expire(key, ttlSeconds).set(this.keys.elicitationHolder(parked.elicitationId), holder, 'PX', leaseMs).exec();
    // The console's list (a global key: its own command, another slot). Bounded by expiry and by count.
    await this.redis
      .multi()
      .zadd(this.keys.pendingElicitations, parked.expiresAt, parked.elicitationId)
      .zremrangebyrank(this.keys.pendingElicitations, 0, -MAX_LISTED - 1)
      .exec();
  }

  /** Takes a question off the console's list (answered, or given up). */
  async unlist(elicitationId: string): Promise<void> {
    await this.redis.zrem(this.keys.pendingElicitations, elicitationId);
  }

  /** Questions still waiting for an answer, soonest to expire first (the console). */
  async pending(nowMs: number, limit = 200): Promise<ParkedElicitation[]> {
    await this.redis.zremrangebyscore(this.keys.pendingElicitations, '-inf', nowMs);
    const ids = await this.redis.zrange(this.keys.pendingElicitations, 0, limit - 1);
    const out: ParkedElicitation[] = [];
    for (const id of ids) {
      const parked = await this.get(id);
      if (parked) out.push(parked);
    }
    return out;
  }

  async get(elicitationId: string): Promise<ParkedElicitation | null> {
    const v = await this.redis.hget(this.keys.elicitation(elicitationId), 'parked');
    return v === null ? null : ParkedElicitationSchema.parse(JSON.parse(v));
  }

  async claim(elicitationId: string, claimant: string): Promise<ElicitationClaim> {
    const [status, value] = await this.redis.spoolClaimElicitation(this.keys.elicitation(elicitationId), claimant);
    if (status === 1) {
      await this.unlist(elicitationId).catch(() => undefined);
      return { kind: 'claimed', parked: ParkedElicitationSchema.parse(JSON.parse(value as string)) };
    }
    if (status === 0) return { kind: 'used', by: value ?? '' };
    if (status === -2) return { kind: 'expired', parked: ParkedElicitationSchema.parse(JSON.parse(value as string)) };
    return { kind: 'missing' };
  }

  /** Gives a claim back (the follow-up was refused or could not be enqueued). */
  async release(elicitationId: string, claimant: string): Promise<void> {
    await this.redis.spoolUnclaimElicitation(this.keys.elicitation(elicitationId), claimant);
  }

  /**
   * Hands an answer over; false when one already was (by a retried resume, or by the holder's
   * timeout). `by` is the follow-up's call item that carries the call on: a next question is its.
   */
  async answer(elicitationId: string, answer: ElicitationAnswer, by?: ResumedBy): Promise<boolean> {
    const value = JSON.stringify({ ...answer, ...(by ? { by } : {}) });
    return (await this.redis.hsetnx(this.keys.elicitation(elicitationId), 'answer', value)) === 1;
  }

  async answerOf(elicitationId: string): Promise<{ answer: ElicitationAnswer; by: ResumedBy | null } | null> {
    const v = await this.redis.hget(this.keys.elicitation(elicitationId), 'answer');
    if (v === null) return null;
    const parsed = JSON.parse(v) as { by?: ResumedBy };
    return { answer: ElicitationAnswerSchema.parse(parsed), by: parsed.by ?? null };
  }

  /** Records what the call did after its answer (set once). */
  async putResult(elicitationId: string, step: HeldCallStep): Promise<void> {
    await this.redis.hsetnx(this.keys.elicitation(elicitationId), 'result', JSON.stringify(step));
  }

  async resultOf(elicitationId: string): Promise<HeldCallStep | null> {
    const v = await this.redis.hget(this.keys.elicitation(elicitationId), 'result');
    return v === null ? null : HeldCallStepSchema.parse(JSON.parse(v));
  }

  /** Renews the holder lease (the holding executor is alive). */
  async renewLease(elicitationId: string, holder: string, leaseMs: number): Promise<void> {
    await this.redis.set(this.keys.elicitationHolder(elicitationId), holder, 'PX', leaseMs);
  }

  async dropLease(elicitationId: string): Promise<void> {
    await this.redis.unlink(this.keys.elicitationHolder(elicitationId));
  }

  /** True while the executor holding the call is alive. */
  async held(elicitationId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.elicitationHolder(elicitationId))) === 1;
  }
}
