import type { Result } from 'ioredis';
import type { RedisClient } from './connection.ts';
import type { Keys } from '@spool/contracts';

/**
 * conversation_append: appends items to a conversation, in order, all or none.
 * KEYS[1] conversation hash, KEYS[2] items hash, KEYS[3] order zset, KEYS[4] lock
 * ARGV[1] ttl seconds, ARGV[2] lock holder to release ('' for none), ARGV[3..] id, json pairs
 * Returns the number of items appended, or -1 when the conversation is gone (nothing written).
 * Every key's expiry is refreshed: a conversation lives for the retention after its last change.
 */
const APPEND = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = 0
for i = 3, #ARGV, 2 do
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[3], seq, ARGV[i])
  n = n + 1
end
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[4]) == ARGV[2] then redis.call('DEL', KEYS[4]) end
return n
`;

/**
 * conversation_lock: takes the conversation for one response.
 * KEYS[1] conversation hash, KEYS[2] lock
 * ARGV[1] response id, ARGV[2] lock ttl seconds, ARGV[3] the holder the caller found stale ('' for none)
 * Returns {1} when taken, {0, holder} when another response holds it, {-1} when the conversation is gone.
 */
const LOCK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] and holder ~= ARGV[1] then return {0, holder} end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return {1}
`;

/** unlock: releases the lock only if this response holds it. KEYS[1] lock, ARGV[1] response id. */
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    spoolConversationAppend(...args: Array<string | number>): Result<number, Context>;
    spoolConversationLock(...args: Array<string | number>): Result<[number, string?], Context>;
    spoolConversationUnlock(key: string, responseId: string): Result<number, Context>;
  }
}

export interface ConversationMeta {
  id: string;
  owner: string;
  createdAt: number;
  metadata: Record<string, string>;
}

/** A stored item: its id and its JSON as it was given (the store does not look inside). */
export interface StoredItem {
  id: string;
  json: string;
}

export type LockResult = { kind: 'locked' } | { kind: 'busy'; holder: string } | { kind: 'gone' };

export interface ItemPage {
  items: StoredItem[];
  hasMore: boolean;
}

/**
 * Conversations: a hash per conversation, its items by id, their order, and the lock a running
 * response holds. Everything expires with the retention, counted from the last change.
 */
export class ConversationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (typeof redis.spoolConversationAppend !== 'function') redis.defineCommand('spoolConversationAppend', { numberOfKeys: 4, lua: APPEND });
    if (typeof redis.spoolConversationLock !== 'function') redis.defineCommand('spoolConversationLock', { numberOfKeys: 2, lua: LOCK });
    if (typeof redis.spoolConversationUnlock !== 'function') redis.defineCommand('spoolConversationUnlock', { numberOfKeys: 1, lua: UNLOCK });
  }

  private all(id: string): [string, string, string, string] {
    return [this.keys.conversation(id), this.keys.conversationItems(id), this.keys.conversationOrder(id), this.keys.conversationLock(id)];
  }

  /** Writes a new conversation and its first items in one transaction. */
  async create(meta: ConversationMeta, items: StoredItem[], ttlSeconds: number): Promise<void> {
    const [conv, itemsKey, order] = this.all(meta.id);
    const tx = this.redis.multi();
    tx.hset(conv, 'owner', meta.owner, 'created_at', String(meta.createdAt), 'metadata', JSON.stringify(meta.metadata), 'seq', String(items.length));
    tx.expire(conv, ttlSeconds);
    if (items.length > 0) {
      tx.hset(itemsKey, ...items.flatMap((i) => [i.id, i.json]));
      tx.zadd(order, ...items.flatMap((i, n) => [String(n + 1), i.id]));
      tx.expire(itemsKey, ttlSeconds);
      tx.expire(order, ttlSeconds);
    }
    await tx.exec();
  }

  async get(id: string): Promise<ConversationMeta | null> {
    const [owner, createdAt, metadata] = await this.redis.hmget(this.keys.conversation(id), 'owner', 'created_at', 'metadata');
    if (owner === null || owner === undefined) return null;
    return { id, owner, createdAt: Number(createdAt ?? 0), metadata: JSON.parse(metadata ?? '{}') as Record<string, string> };
  }

  /**
   * Replaces the metadata; false when the conversation is gone. (A delete racing this can leave a
   * hash without an owner behind, which reads as not found and expires.)
   */
  async setMetadata(id: string, metadata: Record<string, string>, ttlSeconds: number): Promise<boolean> {
    const key = this.keys.conversation(id);
    if ((await this.redis.exists(key)) === 0) return false;
    await this.redis.multi().hset(key, 'metadata', JSON.stringify(metadata)).expire(key, ttlSeconds).exec();
    return true;
  }

  async delete(id: string): Promise<void> {
    await this.redis.unlink(...this.all(id));
  }

  /** Appends items atomically, and releases the lock `release` holds; false when the conversation is gone. */
  async append(id: string, items: StoredItem[], ttlSeconds: number, release: string | null = null): Promise<boolean> {
    const n = await this.redis.spoolConversationAppend(...this.all(id), ttlSeconds, release ?? '', ...items.flatMap((i) => [i.id, i.json]));
    return n >= 0;
  }

  /** A page of items after `after` (an item id), in `order`. */
  async page(id: string, opts: { after: string | null; limit: number; order: 'asc' | 'desc' }): Promise<ItemPage | 'after_not_found'> {
    const order = this.keys.conversationOrder(id);
    let start = 0;
    if (opts.after !== null) {
      const rank = opts.order === 'asc' ? await this.redis.zrank(order, opts.after) : await this.redis.zrevrank(order, opts.after);
      if (rank === null) return 'after_not_found';
      start = rank + 1;
    }
    // One more than asked, to learn whether there is a next page.
    const ids = opts.order === 'asc' ? await this.redis.zrange(order, start, start + opts.limit) : await this.redis.zrevrange(order, start, start + opts.limit);
    const hasMore = ids.length > opts.limit;
    const pageIds = ids.slice(0, opts.limit);
    return { items: await this.items(id, pageIds), hasMore };
  }

  /** How many items the conversation holds. */
  async count(id: string): Promise<number> {
    return this.redis.zcard(this.keys.conversationOrder(id));
  }

  /** Every item, oldest first (the context of a response on this conversation). */
  async allItems(id: string): Promise<StoredItem[]> {
    return this.items(id, await this.redis.zrange(this.keys.conversationOrder(id), 0, -1));
  }

  private async items(id: string, ids: string[]): Promise<StoredItem[]> {
    if (ids.length === 0) return [];
    const jsons = await this.redis.hmget(this.keys.conversationItems(id), ...ids);
    return ids.flatMap((itemId, i) => (jsons[i] ? [{ id: itemId, json: jsons[i] as string }] : []));
  }

  async item(id: string, itemId: string): Promise<StoredItem | null> {
    const json = await this.redis.hget(this.keys.conversationItems(id), itemId);
    return json === null ? null : { id: itemId, json };
  }

  /** Removes one item; false when it was not there. */
  async deleteItem(id: string, itemId: string): Promise<boolean> {
    const [[, removed]] = (await this.redis.multi().hdel(this.keys.conversationItems(id), itemId).zrem(this.keys.conversationOrder(id), itemId).exec()) as [[Error | null, number]];
    return removed === 1;
  }

  /**
   * Takes the conversation for `responseId`. `staleHolder`: a holder the caller found finished
   * (its response is sealed or gone), which may be replaced.
   */
  async lock(id: string, responseId: string, ttlSeconds: number, staleHolder: string | null = null): Promise<LockResult> {
    const [code, holder] = await this.redis.spoolConversationLock(this.keys.conversation(id), this.keys.conversationLock(id), responseId, ttlSeconds, staleHolder ?? '');
    if (code === 1) return { kind: 'locked' };
    if (code === -1) return { kind: 'gone' };
    return { kind: 'busy', holder: holder ?? '' };
  }

  async unlock(id: string, responseId: string): Promise<void> {
    await this.redis.spoolConversationUnlock(this.keys.conversationLock(id), responseId);
  }
}
