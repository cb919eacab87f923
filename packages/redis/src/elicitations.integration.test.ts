import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, type Keys, type ParkedElicitation } from '@spool/contracts';
import { deleteByPrefix, uniquePrefix } from '@spool/testkit';
import { ElicitationStore } from './elicitations.ts';

/** Parked elicitations against a real Redis: one claim, one answer, the holder lease. */
const url = process.env.SPOOL_TEST_REDIS_URL as string;
const prefix = `${uniquePrefix('redis-elicitations')}:`;
let redis: Redis;
let keys: Keys;
let store: ElicitationStore;

beforeAll(() => {
  redis = new Redis(url);
  keys = createKeys(prefix);
  store = new ElicitationStore(redis, keys);
});
afterAll(async () => {
  redis.disconnect();
  await deleteByPrefix(url, prefix);
});

let n = 0;
function parked(over: Partial<ParkedElicitation> = {}): ParkedElicitation {
  n += 1;
  return {
    elicitationId: `mcpe_test${n}`,
    responseId: 'resp_1',
    itemId: 'mcp_1',
    owner: 'key_a',
    serverLabel: 's',
    toolName: 'deploy',
    arguments: '{}',
    message: 'Where?',
    requestedSchema: { type: 'object', properties: {} },
    expiresAt: Date.now() + 60_000,
    ...over,
  };
}

describe('ElicitationStore', () => {
  it('lets one claimant take a question; the next learns who, and a released claim can be taken again', async () => {
    const p = parked();
    await store.park(p, 60, 'holder-1', 10_000);
    expect(await store.get(p.elicitationId)).toEqual(p);
    expect(await store.claim(p.elicitationId, 'resp_a')).toEqual({ kind: 'claimed', parked: p });
    expect(await store.claim(p.elicitationId, 'resp_b')).toEqual({ kind: 'used', by: 'resp_a' });
    await store.release(p.elicitationId, 'resp_b'); // not the holder of the claim: nothing changes
    expect(await store.claim(p.elicitationId, 'resp_c')).toEqual({ kind: 'used', by: 'resp_a' });
    await store.release(p.elicitationId, 'resp_a');
    expect((await store.claim(p.elicitationId, 'resp_c')).kind).toBe('claimed');
  });

  it('hands an answer over once: the holder timing out and a late answer race, one wins', async () => {
    const p = parked();
    await store.park(p, 60, 'holder-1', 10_000);
    expect(await store.answer(p.elicitationId, { action: 'cancel' })).toBe(true); // the holder's timeout
    expect(await store.answer(p.elicitationId, { action: 'accept', content: { a: 1 } }, { responseId: 'resp_b', itemId: 'mcp_b' })).toBe(false);
    expect(await store.answerOf(p.elicitationId)).toEqual({ answer: { action: 'cancel' }, by: null });
    // A question whose holder stopped waiting cannot be claimed, nor its claim given back.
    expect((await store.claim(p.elicitationId, 'resp_b')).kind).toBe('expired');
  });

  it('keeps the answerer with the answer, the result once, and the lease until dropped', async () => {
    const p = parked();
    await store.park(p, 60, 'holder-1', 10_000);
    expect(await store.held(p.elicitationId)).toBe(true);
    await store.answer(p.elicitationId, { action: 'accept', content: { env: 'x' } }, { responseId: 'resp_b', itemId: 'mcp_b' });
    expect(await store.answerOf(p.elicitationId)).toEqual({ answer: { action: 'accept', content: { env: 'x' } }, by: { responseId: 'resp_b', itemId: 'mcp_b' } });
    await store.putResult(p.elicitationId, { output: 'done', error: null });
    await store.putResult(p.elicitationId, { output: 'again', error: null });
    expect(await store.resultOf(p.elicitationId)).toEqual({ output: 'done', error: null });
    await store.dropLease(p.elicitationId);
    expect(await store.held(p.elicitationId)).toBe(false);
  });

  it('lists waiting questions until they are claimed, unlisted or expire', async () => {
    const a = parked();
    const b = parked();
    const old = parked({ expiresAt: Date.now() - 1 });
    for (const p of [a, b, old]) await store.park(p, 60, 'h', 10_000);
    const ids = async () => (await store.pending(Date.now())).map((p) => p.elicitationId);
    expect(await ids()).toEqual(expect.arrayContaining([a.elicitationId, b.elicitationId]));
    expect(await ids()).not.toContain(old.elicitationId);
    await store.claim(a.elicitationId, 'resp_x');
    await store.unlist(b.elicitationId);
    expect(await ids()).not.toContain(a.elicitationId);
    expect(await ids()).not.toContain(b.elicitationId);
  });

  it('says missing for a question never parked', async () => {
    expect(await store.claim('mcpe_nothing', 'resp_a')).toEqual({ kind: 'missing' });
    expect(await store.get('mcpe_nothing')).toBeNull();
  });
});
