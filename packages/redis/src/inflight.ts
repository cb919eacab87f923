import type { RedisClient } from './connection.ts';
import type { Keys } from '@spool/contracts';

/**
 * The index of responses that may still be running (`keys.inflight`), for the watchdog: a sorted
 * set of response ids scored by when each is next due for a check. The create adds an entry (in
 * the same pipeline as its script, see ResponseStore.create); the watchdog pushes it back while the
 * response's work is alive and removes it once the response is sealed or gone. Seals do not touch
 * it: a global key in a per-response script would cross cluster slots, and a command per seal
 * would cost every response a write for what the watchdog learns at its next look anyway.
 */
export class InflightIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Ids due for a check at `now` (ms since the epoch), most overdue first, at most `limit`. */
  due(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.inflight, '-inf', now, 'LIMIT', 0, limit);
  }

  /** Next check of `id` at `at`; only if it is still indexed (a concurrent remove wins). */
  async postpone(id: string, at: number): Promise<void> {
    await this.redis.zadd(this.keys.inflight, 'XX', at, id);
  }

  async remove(id: string): Promise<void> {
    await this.redis.zrem(this.keys.inflight, id);
  }

  async size(): Promise<number> {
    return this.redis.zcard(this.keys.inflight);
  }

  /**
   * Takes the watchdog's turn for `ms` (a lock that expires by itself, so a process that dies
   * holding it costs one interval): true when this process got it.
   */
  async takeTurn(token: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.watchdogLock, token, 'PX', ms, 'NX')) === 'OK';
  }
}
