import type { Keys } from '@spool/contracts';
import { TERMINAL_EVENT_TYPES } from '@spool/protocol';
import { QuietTimers } from '@spool/runtime';
import type { LiveHub, LiveMessage, LiveSubscription } from './live.ts';
import type { LogEntry } from './log-format.ts';
import type { ResponseStore } from './store.ts';

export interface FollowOptions {
  store: ResponseStore;
  hub: LiveHub;
  keys: Keys;
  responseId: string;
  /** Send events with sequence_number greater than this; -1 for all. */
  after: number;
  /** Called once per event, in order, never twice for one number. */
  onEvent: (entry: LogEntry) => void;
  signal?: AbortSignal;
  /** After how long without live messages to re-read the log, in case a wake-up was lost. */
  pollIntervalMs?: number;
  /** A subscription to the response's channel opened earlier (before its job was enqueued). */
  subscription?: LiveSubscription;
}

export type FollowOutcome = 'ended' | 'aborted' | 'missing';

/** A promise settled once, by the first of `finish` or `fail`; `isDone` says whether it was. */
function settleOnce<T>() {
  let done = false;
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    promise,
    isDone: () => done,
    finish: (v: T) => {
      if (done) return;
      done = true;
      resolve(v);
    },
    fail: (e: unknown) => {
      if (done) return;
      done = true;
      reject(e);
    },
  };
}

/**
 * Replays a response's event log from a cursor and follows it live until the response is sealed.
 * Subscribe first, then read the log, then apply live messages, dropping numbers already sent and
 * re-reading the log on any gap (or after a reconnect of the subscriber): no gap, no duplicate,
 * whichever replica serves the reader.
 */
export async function followEvents(opts: FollowOptions): Promise<FollowOutcome> {
  const { store, responseId, onEvent } = opts;
  let cursor = opts.after;
  const { promise: outcome, finish, fail, isDone } = settleOnce<FollowOutcome>();

  const emit = (entry: LogEntry) => {
    if (entry.seq <= cursor) return;
    cursor = entry.seq;
    onEvent(entry);
  };

  const catchUp = async () => {
    const { events, sealed, exists } = await store.readEvents(responseId, cursor);
    if (isDone()) return;
    for (const e of events) emit(e);
    if (sealed) finish('ended');
    else if (!exists) finish('missing');
  };

  // Live messages are handled strictly in arrival order on one promise chain.
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<void> | void) => {
    chain = chain
      .then(async () => {
        if (!isDone()) await work();
      })
      .catch(fail);
  };

  const onLive = (msg: LiveMessage) =>
    enqueue(async () => {
      if (msg.kind === 'resync') return catchUp();
      if (msg.kind === 'grew') {
        // Too large to publish: the events are in the log (the read also sees the seal).
        if (msg.last > cursor) await catchUp();
        if (msg.end) finish('ended');
        return;
      }
      const first = msg.entries[0];
      if (first && first.seq > cursor + 1) {
        await catchUp(); // a wake-up was missed: the log is the truth
        if (msg.end) finish('ended');
        return;
      }
      for (const e of msg.entries) emit(e);
      if (msg.end) {
        // `end` rides with the last events, which were contiguous with what we sent: nothing is
        // missing. Alone (a cancel seals without events), read once more in case a wake-up was lost.
        if (msg.entries.length === 0) await catchUp();
        finish('ended');
      }
    });

  return listen(
    opts,
    { outcome, finish, aborted: 'aborted' },
    onLive,
    () => enqueue(catchUp),
    () => enqueue(catchUp),
  );
}

/**
 * What both readers share: the response's channel (the subscription opened earlier, or a new one)
 * feeding `onLive`; `onQuiet` once the channel has been quiet for `pollIntervalMs` (a safety
 * re-read; one timer for all readers); `afterReady` once the subscription is confirmed; the
 * abort signal settling with `aborted`. Everything is undone when `outcome` settles.
 */
async function listen<T>(
  opts: Pick<FollowOptions, 'hub' | 'keys' | 'responseId' | 'signal' | 'pollIntervalMs' | 'subscription'>,
  end: { outcome: Promise<T>; finish: (v: T) => void; aborted: T },
  onLive: (msg: LiveMessage) => void,
  onQuiet: () => void,
  afterReady: () => void,
): Promise<T> {
  const { signal } = opts;
  const sub = opts.subscription ?? opts.hub.open(opts.keys.channel(opts.responseId));
  if (signal?.aborted) {
    sub.close();
    return end.aborted;
  }
  const onAbort = () => end.finish(end.aborted);
  signal?.addEventListener('abort', onAbort, { once: true });
  const poll = QuietTimers.every(opts.pollIntervalMs ?? 15_000).watch(onQuiet);
  try {
    sub.attach((msg) => {
      poll.touch();
      onLive(msg);
    });
    await sub.ready;
    afterReady();
    return await end.outcome;
  } finally {
    poll.stop();
    sub.close();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** How a response ended, as `waitForTerminal` sees it. */
export type FinalState =
  /** The terminal event's JSON (`response.completed`, `.failed` or `.incomplete`). */
  | { kind: 'event'; type: string; json: string }
  /** Sealed without a terminal event (cancelled): the stored snapshot's JSON. */
  | { kind: 'snapshot'; json: string }
  | { kind: 'aborted' }
  | { kind: 'missing' };

/**
 * Waits for a response to be sealed, for a client that wants only the end (a synchronous
 * request). It reads no log: live messages are scanned for the terminal event. With a
 * subscription opened before the response's job was enqueued (`subscription`), nothing can be
 * missed but across a reconnect, which is told as a resync; without one, and on a resync or after
 * a quiet `pollIntervalMs`, the record says whether it is sealed.
 */
export async function waitForTerminal(opts: Omit<FollowOptions, 'after' | 'onEvent'>): Promise<FinalState> {
  const { store, responseId } = opts;
  const { promise: result, finish, fail, isDone } = settleOnce<FinalState>();
  const check = () => {
    store.final(responseId).then(({ sealed, snapshot }) => {
      if (snapshot === null) finish({ kind: 'missing' });
      else if (sealed) finish({ kind: 'snapshot', json: snapshot });
    }, fail);
  };
  // A terminal event too large to publish is read from the log, from the notice's first number.
  const readTerminal = (afterSeq: number) => {
    store.readEvents(responseId, afterSeq).then(({ events, sealed, exists }) => {
      const terminal = events.find((e) => TERMINAL_EVENT_TYPES.has(e.type));
      if (terminal) finish({ kind: 'event', type: terminal.type, json: terminal.json });
      else if (sealed || !exists) check();
    }, fail);
  };
  const onLive = (msg: LiveMessage) => {
    if (isDone()) return;
    if (msg.kind === 'resync') return check();
    if (msg.kind === 'grew') return msg.end ? readTerminal(msg.first - 1) : undefined;
    for (const e of msg.entries) if (TERMINAL_EVENT_TYPES.has(e.type)) return finish({ kind: 'event', type: e.type, json: e.json });
    if (msg.end) check();
  };

  // Opened before the job was enqueued, the subscription saw everything: nothing to read first.
  const preOpened = opts.subscription !== undefined;
  return listen(opts, { outcome: result, finish, aborted: { kind: 'aborted' } }, onLive, check, () => {
    if (!preOpened) check();
  });
}

/** The `response` member of a lifecycle event's JSON, as written by the log (see scripts.ts). */
export function responseJsonOf(eventJson: string): string {
  const at = eventJson.indexOf(',"response":');
  if (at === -1 || !eventJson.endsWith('}')) throw new Error('not a lifecycle event');
  return eventJson.slice(at + ',"response":'.length, -1);
}
