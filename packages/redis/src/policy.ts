import type { RedisClient } from './connection.ts';

/**
 * Spool's records, logs and parked approvals expire by TTL, and BullMQ's queues have none: a
 * policy that evicts keys under memory pressure (`allkeys-*`, or `volatile-*`, which picks exactly
 * the keys with a TTL) would drop running responses and queued jobs without a trace. `noeviction`
 * refuses writes instead, which Spool answers with a 503.
 */
export type EvictionCheck =
  | { kind: 'safe'; policy: string }
  | { kind: 'evicts'; policy: string }
  /** CONFIG is renamed or refused (many managed services): nothing to check with. */
  | { kind: 'unknown'; reason: string };

export async function checkEvictionPolicy(redis: Pick<RedisClient, 'config'>): Promise<EvictionCheck> {
  let reply: unknown;
  try {
    reply = await redis.config('GET', 'maxmemory-policy');
  } catch (err) {
    return { kind: 'unknown', reason: err instanceof Error ? err.message : String(err) };
  }
  const policy = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null;
  if (policy === null) return { kind: 'unknown', reason: 'CONFIG GET maxmemory-policy gave no answer' };
  return policy === 'noeviction' ? { kind: 'safe', policy } : { kind: 'evicts', policy };
}
