import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, type Keys } from '@spool/contracts';
import { SecretBox } from '@spool/runtime';
import { deleteByPrefix, uniquePrefix } from '@spool/testkit';
import { ToolListCache, type ToolListSource } from './tool-lists.ts';

/** The MCP tool-list cache against a real Redis, under a prefix of its own. */
const url = process.env.SPOOL_TEST_REDIS_URL as string;
const prefix = `${uniquePrefix('redis-tool-lists')}:`;
let redis: Redis;
let keys: Keys;
const box = new SecretBox(Buffer.alloc(32, 7));
const digest = (text: string) => box.digest(text);
const echo = [{ name: 'echo', input_schema: { type: 'object' }, description: 'Echoes', annotations: { readOnlyHint: true } }];

beforeAll(() => {
  redis = new Redis(url);
  keys = createKeys(prefix);
});
afterAll(async () => {
  redis.disconnect();
  await deleteByPrefix(url, prefix);
});

const source = (over: Partial<ToolListSource> = {}): ToolListSource => ({
  serverLabel: 'a',
  serverUrl: 'https://mcp.example.com/mcp',
  credentials: { headers: { Authorization: 'Bearer alice-secret' } },
  ...over,
});

describe('ToolListCache', () => {
  it('gives a listing back to the same server and credentials only, for its TTL', async () => {
    const cache = new ToolListCache(redis, keys, digest, 60);
    await cache.put(source(), echo);
    const [same, sameHeaderOtherCase, otherUser, otherServer, configured] = await cache.getMany([
      source(),
      // A header name in another case, and another label for the same URL, are the same listing.
      source({ serverLabel: 'b', credentials: { headers: { authorization: 'Bearer alice-secret' } } }),
      source({ credentials: { headers: { Authorization: 'Bearer bob-secret' } } }),
      source({ serverUrl: 'https://other.example.com/mcp' }),
      source({ serverUrl: null }),
    ]);
    expect(same).toEqual(echo);
    expect(sameHeaderOtherCase).toEqual(echo);
    expect(otherUser).toBeNull();
    expect(otherServer).toBeNull();
    expect(configured).toBeNull();
    const ttl = await redis.ttl(cache.key(source()));
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('names its keys by a keyed digest: no credential, and another key gives other names', async () => {
    const cache = new ToolListCache(redis, keys, digest, 60);
    const key = cache.key(source());
    expect(key.startsWith(`${prefix}mcp:tools:`)).toBe(true);
    expect(key).not.toContain('alice');
    const otherKey = new ToolListCache(redis, keys, (t) => new SecretBox(Buffer.alloc(32, 8)).digest(t), 60).key(source());
    expect(otherKey).not.toBe(key);
  });

  it('treats an unreadable entry as missing', async () => {
    const cache = new ToolListCache(redis, keys, digest, 60);
    const s = source({ serverUrl: 'https://broken.example.com/mcp' });
    await redis.set(cache.key(s), '{not json');
    const t = source({ serverUrl: 'https://wrong-shape.example.com/mcp' });
    await redis.set(cache.key(t), JSON.stringify([{ nope: true }]));
    expect(await cache.getMany([s, t])).toEqual([null, null]);
  });

  it('does nothing when its TTL is 0', async () => {
    const cache = new ToolListCache(redis, keys, digest, 0);
    const s = source({ serverUrl: 'https://off.example.com/mcp' });
    await cache.put(s, echo);
    expect(await redis.exists(cache.key(s))).toBe(0);
    await new ToolListCache(redis, keys, digest, 60).put(s, echo);
    expect(await cache.getMany([s])).toEqual([null]);
  });
});
