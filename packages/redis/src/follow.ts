import type { Keys } from '@spool/contracts';
import type { LiveHub, LiveMessage } from './live.ts';
import type { LogEntry, ResponseStore } from './store.ts';

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
  /** How often to re-read the log while idle, in case a wake-up was lost (Redis reconnect). */
  pollIntervalMs?: number;
}

export type FollowOutcome = 'ended' | 'aborted' | 'missing';

/**
 * Replays a response's event log from a cursor and follows it live until the response is sealed.
 * Subscribe first, then read the log, then apply live messages, dropping numbers already sent and
 * re-reading the log on any gap: no gap, no duplicate, whichever replica serves the reader.
 */
export async function followEvents(opts: FollowOptions): Promise<FollowOutcome> {
  const { store, hub, keys, responseId, onEvent, signal } = opts;
  let cursor = opts.after;
  let done = false;
  let settle!: (o: FollowOutcome) => void;
  let fail!: (e: unknown) => void;
  const outcome = new Promise<FollowOutcome>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const finish = (o: FollowOutcome) => {
    if (done) return;
    done = true;
    settle(o);
  };

  const emit = (entry: LogEntry) => {
    if (entry.seq <= cursor) return;
    cursor = entry.seq;
    onEvent(entry);
  };

  const catchUp = async () => {
    const { events, sealed, exists } = await store.readEvents(responseId, cursor);
    if (done) return;
    for (const e of events) emit(e);
    if (sealed) finish('ended');
    else if (!exists) finish('missing');
  };

  // Live messages are handled strictly in arrival order on one promise chain.
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<void> | void) => {
    chain = chain.then(async () => {
      if (!done) await work();
    }).catch((err) => {
      done = true;
      fail(err);
    });
  };

  const onLive = (msg: LiveMessage) =>
    enqueue(async () => {
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

  const onAbort = () => finish('aborted');
  if (signal?.aborted) return 'aborted';
  signal?.addEventListener('abort', onAbort, { once: true });

  const unsubscribe = await hub.subscribe(keys.channel(responseId), onLive);
  const timer = setInterval(() => enqueue(catchUp), opts.pollIntervalMs ?? 15_000);
  timer.unref();
  enqueue(catchUp);
  try {
    return await outcome;
  } finally {
    clearInterval(timer);
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}
