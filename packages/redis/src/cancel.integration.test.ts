import { afterAll, describe, expect, it } from 'vitest';
import { buildResponse, lifecycleEvent, newId, type EventDraft, type Response, type ResponseStatus } from '@spool/protocol';
import { cancelResponse, watchClosed } from './cancel.ts';
import { followEvents } from './follow.ts';
import { APPEND_SEALED, ResponseStore } from './store.ts';
import { redisTestContext } from '../test/context.ts';

/** cancelResponse and watchClosed against a real Redis, under a prefix of their own. */
const ctx = redisTestContext('redis-cancel');
const { redis, keys, store, hub } = ctx;
afterAll(() => ctx.close());

const delta = (text: string): EventDraft => ({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: text, logprobs: [] });

/** A background response that has started a message; the stored snapshot is the queued one. */
async function running(): Promise<{ id: string; queued: Response }> {
  const id = newId('resp');
  const queued = buildResponse({ id, request: { model: 'm', background: true }, createdAt: 1, status: 'queued' });
  await store.create({
    id,
    owner: 'o',
    snapshot: queued,
    request: '{}',
    input: '[]',
    previousResponseId: null,
    store: true,
    background: true,
    events: [lifecycleEvent('response.created', queued), lifecycleEvent('response.queued', queued)],
    ttlSeconds: 60,
  });
  const inProgress = { ...structuredClone(queued), status: 'in_progress' as ResponseStatus };
  await store.append(
    id,
    [
      lifecycleEvent('response.in_progress', inProgress),
      { type: 'response.output_item.added', output_index: 0, item: { type: 'message', id: 'msg_1', role: 'assistant', status: 'in_progress', content: [] } },
      { type: 'response.content_part.added', item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } },
      delta('Hel'),
    ],
    // As the writer does between snapshot refreshes: events go to the log, the stored snapshot lags.
    { status: 'in_progress' },
  );
  return { id, queued };
}

const textOf = (r: Response) =>
  r.output
    .flatMap((i) => (i.type === 'message' ? i.content : []))
    .map((c) => (c.type === 'output_text' ? c.text : ''))
    .join('');

describe('cancelResponse', () => {
  it('seals with a snapshot rebuilt from the log, after which appends are refused', async () => {
    const { id } = await running();
    expect((await store.get(id))?.snapshot.output).toEqual([]); // the lagging stored snapshot
    const outcome = await cancelResponse(store, id, 60);
    if (outcome.kind !== 'cancelled') throw new Error(`expected cancelled, got ${outcome.kind}`);
    expect(outcome.snapshot.status).toBe('cancelled');
    expect(textOf(outcome.snapshot)).toBe('Hel');
    expect(outcome.snapshot.output[0]).toMatchObject({ status: 'incomplete' });

    const record = await store.get(id);
    expect(record).toMatchObject({ status: 'cancelled', sealed: true, seq: 6 });
    expect(record?.snapshot).toEqual(outcome.snapshot);
    expect(await store.append(id, [delta('lo')])).toBe(APPEND_SEALED);
    expect(await redis.ttl(keys.events(id))).toBeGreaterThan(0);
  });

  it('retries when a worker appends between its read and its seal, and keeps the new events', async () => {
    const { id } = await running();
    let sealCalls = 0;
    // A real store whose first seal attempt is preceded by a concurrent append (a worker's flush).
    const racing = new (class extends ResponseStore {
      override async sealIf(rid: string, seq: number, snapshot: Response, status: ResponseStatus, ttl: number): Promise<number> {
        if (sealCalls++ === 0) await store.append(rid, [delta('lo')]);
        return super.sealIf(rid, seq, snapshot, status, ttl);
      }
    })(redis, keys);
    const outcome = await cancelResponse(racing, id, 60);
    expect(sealCalls).toBe(2);
    expect(outcome.kind).toBe('cancelled');
    expect(outcome.kind === 'cancelled' && textOf(outcome.snapshot)).toBe('Hello');
  });

  it('returns the final snapshot of a response sealed before it, and reports a missing one', async () => {
    const { id, queued } = await running();
    const done = { ...structuredClone(queued), status: 'completed' as ResponseStatus, completed_at: 2 };
    await store.append(id, [lifecycleEvent('response.completed', done)], { snapshot: done, status: 'completed', seal: true, ttlSeconds: 60 });
    expect(await cancelResponse(store, id, 60)).toEqual({ kind: 'finished', snapshot: done });
    expect(await cancelResponse(store, 'resp_missing', 60)).toEqual({ kind: 'gone' });
  });

  it('ends a follower that waits for more events', async () => {
    const { id } = await running();
    const seen: number[] = [];
    const following = followEvents({ store, hub, keys, responseId: id, after: -1, onEvent: (e) => seen.push(e.seq), pollIntervalMs: 60_000 });
    await new Promise((r) => setTimeout(r, 50));
    await cancelResponse(store, id, 60);
    expect(await following).toBe('ended');
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('watchClosed', () => {
  it('reports a seal, and a deleted record, once', async () => {
    const a = await running();
    const b = await running();
    const calls: string[] = [];
    const stopA = watchClosed(store, a.id, (why) => calls.push(`a:${why}`), 10);
    const stopB = watchClosed(store, b.id, (why) => calls.push(`b:${why}`), 10);
    await new Promise((r) => setTimeout(r, 40));
    expect(calls).toEqual([]);
    await cancelResponse(store, a.id, 60);
    await store.delete(b.id);
    await new Promise((r) => setTimeout(r, 80));
    expect(calls.sort()).toEqual(['a:sealed', 'b:gone']);
    stopA();
    stopB();
  });

  it('stays silent once stopped', async () => {
    const { id } = await running();
    const calls: string[] = [];
    const stop = watchClosed(store, id, (why) => calls.push(why), 10);
    stop();
    await cancelResponse(store, id, 60);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toEqual([]);
  });

  it('with a hub, follows the channel once the turn outlasts the interval: the published seal ends it, no read needed', async () => {
    const { id } = await running();
    const calls: string[] = [];
    const channels = hub.channelCount;
    const stop = watchClosed(store, id, (why) => calls.push(why), 10, hub);
    expect(hub.channelCount).toBe(channels); // a short turn subscribes to nothing
    await until(() => hub.channelCount === channels + 1);
    // Past the subscription and its confirming read: from here only the channel (or a read every 5 s) can tell.
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual([]);
    await cancelResponse(store, id, 60);
    await until(() => calls.length > 0, 1_000);
    expect(calls).toEqual(['sealed']);
    expect(hub.channelCount).toBe(channels);
    stop();
  });

  it('with a hub, still sees a seal or a delete made before it subscribed, and unsubscribes when stopped', async () => {
    const sealed = await running();
    const gone = await running();
    const calls: string[] = [];
    await cancelResponse(store, sealed.id, 60);
    await store.delete(gone.id);
    const channels = hub.channelCount;
    const stopA = watchClosed(store, sealed.id, (why) => calls.push(`a:${why}`), 10, hub);
    const stopB = watchClosed(store, gone.id, (why) => calls.push(`b:${why}`), 10, hub);
    await until(() => calls.length === 2, 1_000);
    expect(calls.sort()).toEqual(['a:sealed', 'b:gone']);
    stopA();
    stopB();
    const open = await running();
    const stop = watchClosed(store, open.id, (why) => calls.push(`c:${why}`), 10, hub);
    await until(() => hub.channelCount === channels + 1);
    stop();
    expect(hub.channelCount).toBe(channels);
    await cancelResponse(store, open.id, 60);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toHaveLength(2);
  });
});

async function until(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
