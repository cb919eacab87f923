import type { Keys } from '@spool/contracts';
import type { RedisClient } from '@spool/redis';
import { SecretBox } from '@spool/runtime';

/**
 * The key that seals MCP credentials in job data: SPOOL_SECRET_KEY, else one kept in Redis and
 * shared by every process on it (set SPOOL_SECRET_KEY so that a copy of Redis alone reveals nothing).
 */
export async function openJobKey(secretKey: string | null | undefined, redis: RedisClient, keys: Keys): Promise<SecretBox> {
  if (secretKey) return new SecretBox(Buffer.from(secretKey, 'base64'));
  await redis.set(keys.jobKey, SecretBox.generateKey(), 'NX');
  const stored = await redis.get(keys.jobKey);
  return new SecretBox(Buffer.from(stored as string, 'base64'));
}

/** Deliveries that failed for good, newest first, bounded: for an operator to inspect or replay. */
export class DeadLetters {
  static readonly MAX = 10_000;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async push(record: unknown): Promise<void> {
    await this.redis
      .multi()
      .lpush(this.keys.webhookDeadLetters, JSON.stringify(record))
      .ltrim(this.keys.webhookDeadLetters, 0, DeadLetters.MAX - 1)
      .exec();
  }

  async list(limit: number): Promise<unknown[]> {
    const rows = await this.redis.lrange(this.keys.webhookDeadLetters, 0, limit - 1);
    return rows.flatMap((row) => {
      try {
        return [JSON.parse(row) as unknown];
      } catch {
        return [];
      }
    });
  }
}
