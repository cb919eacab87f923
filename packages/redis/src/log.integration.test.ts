import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { buildResponse, lifecycleEvent, newId, type EventDraft, type Response } from '@spool/protocol';
import { cancelResponse } from './cancel.ts';
import { followEvents, responseJsonOf, waitForTerminal } from './follow.ts';
import { LiveHub, type LiveMessage } from './live.ts';
import type { LogEntry } from './log-format.ts';
import { ResponseStore, snapshotEvent } from './store.ts';
import { redisTestContext } from '../test/context.ts';

/** The event log, the live channel and the readers of both, against a real Redis. */
const ctx = redisTestContext('redis-log', 'log-test-subscriber');
const { url, redis, subscriber, keys, store, hub } = ctx;
afterAll(() => ctx.close());

const item = { type: 'message' as const, id: 'msg_1', role: 'assistant' as const, status: 'in_progress' as const, content: [] };
const delta = (text: string): EventDraft => ({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: text, logprobs: [] });
const withSeq = (e: EventDraft, seq: number) => {
  const { type, ...rest } = e;
  return JSON.stringify({ type, sequence_number: seq, ...rest });
};

async function created(id = newId('resp')): Promise<{ id: string; snapshot: Response }> {
  const snapshot = buildResponse({ id, request: { model: 'm' }, createdAt: 1, status: 'in_progress' });
  await store.create({
    id,
    owner: 'o',
    snapshot,
    request: '{}',
    input: '[]',
    previousResponseId: null,
    store: true,
    background: false,
    events: [snapshotEvent('response.created'), snapshotEvent('response.in_progress')],
    ttlSeconds: 60,
  });
  return { id, snapshot };
}

/** A response with a log of 8 events in three appends, the last one sealing it. */
async function finished(): Promise<{ id: string; expected: string[]; final: Response }> {
  const { id, snapshot } = await created();
  const middle: EventDraft[] = [{ type: 'response.output_item.added', output_index: 0, item }, delta('Hel'), delta('lo')];
  await store.append(id, middle);
  const final: Response = { ...snapshot, status: 'completed', completed_at: 2 };
  await store.append(id, [delta('!'), snapshotEvent('response.completed')], { snapshot: final, status: 'completed', seal: true, ttlSeconds: 60 });
  const expected = [
    withSeq(lifecycleEvent('response.created', snapshot), 0),
    withSeq(lifecycleEvent('response.in_progress', snapshot), 1),
    ...middle.map((e, i) => withSeq(e, 2 + i)),
    withSeq(delta('!'), 5),
    withSeq(lifecycleEvent('response.completed', final), 6),
  ];
  return { id, expected, final };
}

describe('the event log', () => {
  it('holds one entry per append, and every cursor replays exactly the events after it', async () => {
    const { id, expected } = await finished();
    expect(await redis.xlen(keys.events(id))).toBe(3);
    for (let after = -1; after < expected.length; after++) {
      const { events, sealed } = await store.readEvents(id, after);
      expect(sealed).toBe(true);
      expect(events.map((e) => e.seq)).toEqual(expected.map((_, i) => i).slice(after + 1));
      expect(events.map((e) => e.json)).toEqual(expected.slice(after + 1));
      expect(events.map((e) => e.type)).toEqual(expected.slice(after + 1).map((j) => (JSON.parse(j) as { type: string }).type));
    }
  });

  it('still replays entries written one event each, as before batching (a log from an older Spool)', async () => {
    const { id } = await created();
    // The former layout: entry id 0-(seq+1), fields t and d; here seq 2 and 3 after the batch of 0–1.
    await redis.hincrby(keys.record(id), 'seq', 2);
    await redis.xadd(keys.events(id), '0-3', 't', 'response.output_text.delta', 'd', withSeq(delta('old'), 2));
    await redis.xadd(keys.events(id), '0-4', 't', 'response.output_text.delta', 'd', withSeq(delta('er'), 3));
    await store.append(id, [delta('new')]);
    const { events } = await store.readEvents(id, 1);
    expect(events.map((e) => [e.seq, JSON.parse(e.json).delta])).toEqual([
      [2, 'old'],
      [3, 'er'],
      [4, 'new'],
    ]);
    expect((await store.readEvents(id, 2)).events.map((e) => e.seq)).toEqual([3, 4]);
  });

  it('builds lifecycle events around the snapshot written with them, byte for byte as the JSON of the event', async () => {
    const { id, expected, final } = await finished();
    const { events } = await store.readEvents(id, 5);
    expect(events[0]?.json).toBe(expected[6]);
    expect(responseJsonOf(events[0]!.json)).toBe(JSON.stringify(final));
    expect((await store.get(id))?.snapshot).toEqual(final);
    await expect(store.append(id, [snapshotEvent('response.completed')])).rejects.toThrow(/refers to the snapshot/);
  });

  it('publishes the lines it logs, with `end` on the sealing append', async () => {
    const { id, snapshot } = await created();
    const messages: LiveMessage[] = [];
    const sub = hub.open(keys.channel(id));
    sub.attach((m) => messages.push(m));
    await sub.ready;
    await store.append(id, [delta('a'), delta('b')]);
    await store.append(id, [snapshotEvent('response.completed')], { snapshot: { ...snapshot, status: 'completed' }, status: 'completed', seal: true, ttlSeconds: 60 });
    await vi.waitFor(() => expect(messages).toHaveLength(2));
    sub.close();
    const live = messages.flatMap((m) => (m.kind === 'events' ? m.entries : []));
    expect(live).toEqual((await store.readEvents(id, 1)).events);
    expect(messages.map((m) => m.kind === 'events' && m.end)).toEqual([false, true]);
  });
});

describe('LiveHub', () => {
  it('keeps what arrives between open and attach, and sends the subscriptions of one tick as one SUBSCRIBE', async () => {
    const ids = await Promise.all([created(), created(), created()]);
    const spy = vi.spyOn(subscriber, 'subscribe');
    const subs = ids.map(({ id }) => hub.open(keys.channel(id)));
    await Promise.all(subs.map((s) => s.ready));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]).toHaveLength(3);
    spy.mockRestore();

    await store.append(ids[0]!.id, [delta('early')]);
    await new Promise((r) => setTimeout(r, 50));
    const got: LiveMessage[] = [];
    subs[0]!.attach((m) => got.push(m));
    expect(got).toHaveLength(1);
    expect(got[0]?.kind === 'events' && got[0].entries[0]?.json).toBe(withSeq(delta('early'), 2));
    for (const s of subs) s.close();
    await new Promise((r) => setImmediate(r));
    expect(hub.channelCount).toBe(0);
  });

  it('subscribes only once its connection is ready, so a subscription asked for at start-up holds', async () => {
    // A command sent during the handshake would put the connection in subscriber mode before
    // ioredis's ready check, which then fails and reconnects without the subscription.
    const fresh = new Redis(url);
    try {
      const early = new LiveHub(fresh);
      // Connected, handshake under way: ioredis would send SUBSCRIBE right now.
      await new Promise((r) => fresh.once('connect', r));
      expect(fresh.status).toBe('connect');
      const id = newId('resp');
      const sub = early.open(keys.channel(id));
      await created(id);
      const got: LiveMessage[] = [];
      sub.attach((m) => got.push(m));
      await sub.ready;
      await vi.waitFor(() => expect(fresh.status).toBe('ready'));
      await new Promise((r) => setTimeout(r, 100));
      await store.append(id, [delta('after start-up')]);
      await vi.waitFor(() => expect(got).toHaveLength(1));
      sub.close();
    } finally {
      fresh.disconnect();
    }
  });

  it('tells followers to read the log again after the subscriber reconnects, so what was published meanwhile is not lost', async () => {
    const { id } = await created();
    const seen: LogEntry[] = [];
    const following = followEvents({ store, hub, keys, responseId: id, after: -1, onEvent: (e) => seen.push(e), pollIntervalMs: 120_000 });
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    const started = Date.now();
    // Cut the subscriber off, then append and seal while it is away: the wake-ups are lost.
    const subscriberId = ((await redis.client('LIST')) as string)
      .split('\n')
      .find((l) => l.includes('name=log-test-subscriber'))
      ?.match(/id=(\d+)/)?.[1];
    expect(subscriberId).toBeDefined();
    await redis.client('KILL', 'ID', subscriberId!);
    await store.append(id, [delta('x')]);
    await cancelResponse(store, id, 60);
    expect(await following).toBe('ended');
    expect(seen.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('waitForTerminal', () => {
  it('returns the terminal event from the live channel when the subscription was opened first', async () => {
    const { id, snapshot } = await created();
    const subscription = hub.open(keys.channel(id));
    await subscription.ready;
    const waiting = waitForTerminal({ store, hub, keys, responseId: id, subscription, pollIntervalMs: 120_000 });
    const final = { ...snapshot, status: 'completed' as const };
    await store.append(id, [delta('a'), snapshotEvent('response.completed')], { snapshot: final, status: 'completed', seal: true, ttlSeconds: 60 });
    const state = await waiting;
    expect(state).toMatchObject({ kind: 'event', type: 'response.completed' });
    expect(state.kind === 'event' && responseJsonOf(state.json)).toBe(JSON.stringify(final));
  });

  it('reads the record when the response was sealed without a terminal event, or before it subscribed', async () => {
    const a = await created();
    const waiting = waitForTerminal({ store, hub, keys, responseId: a.id, pollIntervalMs: 120_000 });
    await new Promise((r) => setTimeout(r, 50));
    const outcome = await cancelResponse(store, a.id, 60);
    expect(await waiting).toEqual({ kind: 'snapshot', json: JSON.stringify(outcome.kind === 'cancelled' && outcome.snapshot) });

    const b = await finished();
    expect(await waitForTerminal({ store, hub, keys, responseId: b.id })).toEqual({ kind: 'snapshot', json: JSON.stringify(b.final) });
    expect(await waitForTerminal({ store, hub, keys, responseId: 'resp_missing' })).toEqual({ kind: 'missing' });
  });
});

describe('appends over the publish bound', () => {
  // A store whose bound is small, on the same Redis and prefix: what it writes, the readers read.
  const small = new ResponseStore(redis, keys, { maxPublishBytes: 1024 });
  const big = (n: number) => delta('x'.repeat(n));

  it('are announced by a short notice, never published whole, and a follower and a synchronous waiter read them from the log', async () => {
    const { id, snapshot } = await created();
    const subscription = hub.open(keys.channel(id));
    await subscription.ready;
    const waiting = waitForTerminal({ store, hub, keys, responseId: id, subscription, pollIntervalMs: 120_000 });
    const raw: string[] = [];
    const listener = new Redis(url);
    try {
      await listener.subscribe(keys.channel(id));
      listener.on('message', (_c: string, m: string) => raw.push(m));
      const seen: LogEntry[] = [];
      const following = followEvents({ store, hub, keys, responseId: id, after: -1, onEvent: (e) => seen.push(e), pollIntervalMs: 120_000 });
      await vi.waitFor(() => expect(seen).toHaveLength(2));
      await small.append(id, [big(10), big(4000)]);
      await small.append(id, [delta('small')]);
      const final = { ...snapshot, status: 'completed' as const, instructions: 'y'.repeat(5000) };
      await small.append(id, [snapshotEvent('response.completed')], { snapshot: final, status: 'completed', seal: true, ttlSeconds: 60 });
      expect(await following).toBe('ended');
      expect(seen.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(seen.map((e) => e.json)).toEqual((await store.readEvents(id, -1)).events.map((e) => e.json));
      await vi.waitFor(() => expect(raw).toHaveLength(3));
      expect(raw[0]).toBe('log\t2\t3');
      expect(raw[1]).toMatch(/^4\tresponse\.output_text\.delta\t/);
      expect(raw[2]).toBe('log\t5\t5\nend');
      const state = await waiting;
      expect(state).toMatchObject({ kind: 'event', type: 'response.completed' });
      expect(state.kind === 'event' && responseJsonOf(state.json)).toBe(JSON.stringify(final));
    } finally {
      listener.disconnect();
    }
  });
});

describe('retention', () => {
  it('is refreshed by every append, for the record, the log and the parked approvals', async () => {
    const { id } = await created();
    await redis.hset(keys.approvals(id), 'apr_1', '{}');
    await redis.expire(keys.approvals(id), 60);
    // Created with 60 s; an append 90 s later (here: one that says so) must not leave 60 - 90.
    await store.append(id, [delta('a')], { ttlSeconds: 3600 });
    for (const key of [keys.record(id), keys.events(id), keys.approvals(id)]) {
      expect(await redis.ttl(key)).toBeGreaterThan(3000);
    }
    // Without a ttl, an append leaves the expiry as it was.
    await redis.expire(keys.record(id), 100);
    await store.append(id, [delta('b')]);
    expect(await redis.ttl(keys.record(id))).toBeLessThanOrEqual(100);
  });
});
