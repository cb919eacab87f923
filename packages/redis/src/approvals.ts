import type { Result } from 'ioredis';
import type { RedisClient } from './connection.ts';
import { ParkedApprovalSchema, type Keys, type ParkedApproval } from '@spool/contracts';
import { OpsIndex } from './ops-index.ts';

/**
 * claim_approval: takes a parked approval exactly once.
 * KEYS[1] the approvals hash of the response that parked it
 * ARGV[1] approval request id, ARGV[2] claimant (the follow-up response id)
 * Returns {1, parked JSON} for the one claimant that wins, {0, previous claimant} when it was
 * already used, {-1} when nothing is parked (expired, deleted or never parked).
 */
const CLAIM = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {-1} end
if redis.call('HSETNX', KEYS[1], ARGV[1] .. ':used', ARGV[2]) == 0 then
  return {0, redis.call('HGET', KEYS[1], ARGV[1] .. ':used')}
end
return {1, v}
`;

/**
 * unmark_approval_use: gives back a use mark, only if this claimant holds it.
 * KEYS[1] the approval's use key
 * ARGV[1] claimant
 * Returns 1 when it was removed, 0 when someone else (or nobody) holds it.
 */
const UNMARK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    spoolClaimApproval(key: string, id: string, claimant: string): Result<[number, string?], Context>;
    spoolUnmarkApprovalUse(key: string, claimant: string): Result<number, Context>;
  }
}

export type UseResult = { kind: 'marked' } | { kind: 'used'; by: string };

export type ClaimResult = { kind: 'claimed'; parked: ParkedApproval } | { kind: 'used'; by: string } | { kind: 'missing' };

/** Parked approvals: written when a turn asks for approval, claimed once by the follow-up. */
export class ApprovalStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (typeof redis.spoolClaimApproval !== 'function') redis.defineCommand('spoolClaimApproval', { numberOfKeys: 1, lua: CLAIM });
    if (typeof redis.spoolUnmarkApprovalUse !== 'function') redis.defineCommand('spoolUnmarkApprovalUse', { numberOfKeys: 1, lua: UNMARK });
  }

  /** Parks calls under their response; they expire with the response's retention. */
  async park(responseId: string, parked: ParkedApproval[], ttlSeconds: number): Promise<void> {
    if (parked.length === 0) return;
    const key = this.keys.approvals(responseId);
    await this.redis
      .multi()
      .hset(key, Object.fromEntries(parked.map((p) => [p.approvalRequestId, JSON.stringify(p)])))
      .expire(key, ttlSeconds)
      .exec();
    // The console's and the metrics' index of unanswered approvals (another slot: its own command).
    await new OpsIndex(this.redis, this.keys).approvalsParked(
      responseId,
      parked.map((p) => p.approvalRequestId),
      Date.now() + ttlSeconds * 1000,
    );
  }

  async claim(responseId: string, approvalRequestId: string, claimant: string): Promise<ClaimResult> {
    const [status, value] = await this.redis.spoolClaimApproval(this.keys.approvals(responseId), approvalRequestId, claimant);
    if (status === 1) {
      await new OpsIndex(this.redis, this.keys).approvalAnswered(responseId, approvalRequestId).catch(() => undefined);
      return { kind: 'claimed', parked: ParkedApprovalSchema.parse(JSON.parse(value as string)) };
    }
    if (status === 0) return { kind: 'used', by: value ?? '' };
    return { kind: 'missing' };
  }

  /** Gives a claim back (the follow-up could not be enqueued), so the approval can be answered again. */
  async release(responseId: string, approvalRequestId: string): Promise<void> {
    await this.redis.hdel(this.keys.approvals(responseId), `${approvalRequestId}:used`);
  }

  /**
   * Records that an approval request id was answered, atomically (SET NX EX): the one claimant
   * that wins may act on it; any other within `ttlSeconds` learns who used it. This is what makes a
   * stateless (`store: false`) approval, which has nothing parked, usable once.
   */
  async markUsed(approvalRequestId: string, claimant: string, ttlSeconds: number): Promise<UseResult> {
    const key = this.keys.approvalUse(approvalRequestId);
    const set = await this.redis.set(key, claimant, 'EX', ttlSeconds, 'NX');
    if (set === 'OK') return { kind: 'marked' };
    return { kind: 'used', by: (await this.redis.get(key)) ?? '' };
  }

  /** Gives a use mark back (the follow-up was refused or could not be enqueued). */
  async unmarkUsed(approvalRequestId: string, claimant: string): Promise<void> {
    await this.redis.spoolUnmarkApprovalUse(this.keys.approvalUse(approvalRequestId), claimant);
  }

  /** Removes the approvals a response parked (`DELETE /v1/responses/{id}`). */
  async drop(responseId: string): Promise<void> {
    await this.redis.unlink(this.keys.approvals(responseId));
  }
}
