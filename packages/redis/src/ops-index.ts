import type { RedisClient } from './connection.ts';
import type { Keys } from '@spool/contracts';

/**
 * What the console lists without scanning Redis: recently created responses (a sorted set trimmed
 * to `keep`) and parked approvals not yet answered (a sorted set by expiry). Both are indexes
 * only: the records stay the truth, and an entry whose record is gone is dropped when read.
 */
export class OpsIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly keep = 1000,
  ) {}

  async responseCreated(responseId: string, nowMs: number): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.keys.recentResponses, nowMs, responseId)
      .zremrangebyrank(this.keys.recentResponses, 0, -this.keep - 1)
      .exec();
  }

  /** Newest first. */
  async recent(limit: number): Promise<string[]> {
    return this.redis.zrevrange(this.keys.recentResponses, 0, Math.max(0, limit - 1));
  }

  async approvalsParked(responseId: string, approvalIds: string[], expiresAtMs: number): Promise<void> {
    if (approvalIds.length === 0) return;
    const args = approvalIds.flatMap((id) => [expiresAtMs, `${responseId} ${id}`]);
    await this.redis
      .multi()
      .zadd(this.keys.pendingApprovals, ...args)
      .zremrangebyrank(this.keys.pendingApprovals, 0, -10 * this.keep - 1)
      .exec();
  }

  async approvalAnswered(responseId: string, approvalId: string): Promise<void> {
    await this.redis.zrem(this.keys.pendingApprovals, `${responseId} ${approvalId}`);
  }

  /** Parked approvals not yet answered and not expired: `{responseId, approvalRequestId}`. */
  async pendingApprovals(nowMs: number, limit = 200): Promise<Array<{ responseId: string; approvalRequestId: string }>> {
    await this.redis.zremrangebyscore(this.keys.pendingApprovals, '-inf', nowMs);
    const members = await this.redis.zrange(this.keys.pendingApprovals, 0, limit - 1);
    return members.map((m) => {
      const [responseId, approvalRequestId] = m.split(' ');
      return { responseId: responseId as string, approvalRequestId: approvalRequestId as string };
    });
  }

  async pendingApprovalCount(nowMs: number): Promise<number> {
    return this.redis.zcount(this.keys.pendingApprovals, nowMs, '+inf');
  }
}
