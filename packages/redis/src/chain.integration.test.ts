import { afterAll, describe, expect, it } from 'vitest';
import { buildResponse, lifecycleEvent, newId } from '@spool/protocol';
import { ChainError, loadChain } from './chain.ts';
import { redisTestContext } from '../test/context.ts';

/** loadChain against a real Redis: walked link by link, or read at once from the ids the API walked. */
const ctx = redisTestContext('redis-chain');
const { store } = ctx;
afterAll(() => ctx.close());

async function record(previous: string | null, owner = 'o', stored = true): Promise<string> {
  const id = newId('resp');
  const snapshot = buildResponse({ id, request: { model: 'm' }, createdAt: 1, status: 'completed' });
  await store.create({
    id,
    owner,
    snapshot,
    request: '{}',
    input: '[]',
    previousResponseId: previous,
    store: stored,
    background: false,
    events: [lifecycleEvent('response.created', snapshot)],
    ttlSeconds: 60,
  });
  return id;
}

describe('loadChain', () => {
  it('reads the chain from the walked ids as the walk does, oldest first', async () => {
    const a = await record(null);
    const b = await record(a);
    const c = await record(b);
    const walked = await loadChain(store, c, 'o', 10);
    expect(walked.map((r) => r.id)).toEqual([a, b, c]);
    expect(await loadChain(store, c, 'o', 10, undefined, [a, b, c])).toEqual(walked);
  });

  it('checks the ids again: links that do not hold, or a record gone, fall back to the walk and its errors', async () => {
    const a = await record(null);
    const b = await record(a);
    const c = await record(b);
    // A list that skips a link is not trusted: the walk finds all three.
    expect((await loadChain(store, c, 'o', 10, undefined, [a, c])).map((r) => r.id)).toEqual([a, b, c]);
    await store.delete(b);
    await expect(loadChain(store, c, 'o', 10, undefined, [a, b, c])).rejects.toMatchObject({ code: 'previous_response_not_found', responseId: b });
  });

  it('keeps ownership, store:false and the depth bound with ids as without', async () => {
    const mine = await record(null);
    const theirs = await record(mine, 'other');
    await expect(loadChain(store, theirs, 'o', 10, undefined, [mine, theirs])).rejects.toBeInstanceOf(ChainError);
    const unstored = await record(null, 'o', false);
    await expect(loadChain(store, unstored, 'o', 10, undefined, [unstored])).rejects.toMatchObject({ code: 'previous_response_not_found' });
    expect((await loadChain(store, unstored, 'o', 10, () => true, [unstored])).map((r) => r.id)).toEqual([unstored]);
    const a = await record(null);
    const b = await record(a);
    await expect(loadChain(store, b, 'o', 1, undefined, [a, b])).rejects.toMatchObject({ code: 'chain_too_long' });
  });
});
