import { applyEvent, type EventDraft, type OutputItem, type Response } from '@spool/protocol';
import { parseLogRange, rangeStartAfter, type LogEntry } from './log-format.ts';
import type { LiveHub, LiveSubscription } from './live.ts';
import type { ResponseStore } from './store.ts';

/**
 * Applies logged events to a snapshot, in place, in order. The log holds every event exactly as
 * sent, so replaying it from the start rebuilds what the writer held in memory, including deltas
 * the stored snapshot (refreshed at most every 200 ms during deltas) has not caught up with.
 */
export function replayEvents(snapshot: Response, entries: readonly LogEntry[]): Response {
  for (const entry of entries) applyEvent(snapshot, JSON.parse(entry.json) as EventDraft);
  return snapshot;
}

/**
 * The final form of a cancelled response: status `cancelled`, and every item that was still open
 * closed as `incomplete` (a terminal response has no item in progress; an MCP call that was
 * `calling` did not finish). Returns a copy.
 */
export function asCancelled(snapshot: Response): Response {
  // A shallow copy, not structuredClone: closeItem copies what it changes, and a clone throws on
  // a deep request (a nested json_schema), which would leave the response impossible to cancel.
  return { ...snapshot, status: 'cancelled', output: snapshot.output.map(closeItem) };
}

/** An item still running: in progress, an MCP call `calling`, a hosted tool searching, interpreting or generating. */
const OPEN_STATUSES: ReadonlySet<string> = new Set(['in_progress', 'calling', 'searching', 'interpreting', 'generating']);

function closeItem(item: OutputItem): OutputItem {
  if (!('status' in item)) return item;
  if (!OPEN_STATUSES.has(item.status)) return item;
  // An image generation has no `incomplete` status (OpenAI's type): it ends failed.
  return (item.type === 'image_generation_call' ? { ...item, status: 'failed' } : { ...item, status: 'incomplete' }) as OutputItem;
}

export type CancelOutcome =
  /** We sealed it: `snapshot` is the cancelled response as stored. */
  | { kind: 'cancelled'; snapshot: Response }
  /** It was sealed before we could (finished, failed, or cancelled by someone else). */
  | { kind: 'finished'; snapshot: Response }
  /** The record is gone (deleted or expired). */
  | { kind: 'gone' };

interface LogState {
  exists: boolean;
  sealed: boolean;
  /** The sequence counter: how many events the log holds. */
  seq: number;
  snapshot: Response | null;
  events: LogEntry[];
}

/** Events after `afterSeq`, the counter, the seal flag and the snapshot, read in one MULTI. */
async function readState(store: ResponseStore, id: string, afterSeq: number): Promise<LogState> {
  const [[e1, range], [e2, fields]] = (await store.redis.multi().xrange(store.keys.events(id), rangeStartAfter(afterSeq), '+').hmget(store.keys.record(id), 'snapshot', 'sealed', 'seq').exec()) as [
    [Error | null, Array<[string, string[]]>],
    [Error | null, Array<string | null>],
  ];
  if (e1) throw e1;
  if (e2) throw e2;
  const [snapshot, sealed, seq] = fields;
  const events = parseLogRange(range, afterSeq);
  return {
    exists: snapshot !== null && snapshot !== undefined,
    sealed: sealed === '1',
    seq: Number(seq ?? 0),
    snapshot: snapshot ? (JSON.parse(snapshot) as Response) : null,
    events,
  };
}

/**
 * Past this many lost compare-and-sets in a row something is wrong (a writer appending without
 * pause for seconds); each attempt only reads the events added since the previous one.
 */
const MAX_ATTEMPTS = 200;

/**
 * Seals a response as `cancelled` unless it is already sealed. The final snapshot is rebuilt from
 * the event log, then written with SEAL_IF against the sequence counter read with those events: if
 * a worker appended in between, the new events are applied and the seal retried, so no event is
 * ever left out of the cancelled snapshot. SEAL_IF publishes `end`, which ends every open stream
 * of the response and tells a watching worker to stop.
 */
export async function cancelResponse(store: ResponseStore, id: string, ttlSeconds: number): Promise<CancelOutcome> {
  let cursor = -1;
  let rebuilt: Response | null = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const state = await readState(store, id, cursor);
    if (!state.exists || !state.snapshot) return { kind: 'gone' };
    if (state.sealed) return { kind: 'finished', snapshot: state.snapshot };
    rebuilt = replayEvents(rebuilt ?? state.snapshot, state.events);
    cursor = state.seq - 1;
    const cancelled = asCancelled(rebuilt);
    const r = await store.sealIf(id, state.seq, cancelled, 'cancelled', ttlSeconds);
    if (r === 1) return { kind: 'cancelled', snapshot: cancelled };
    if (r === -3) return { kind: 'gone' };
    // 0: the counter moved (read the new events and retry); -2: sealed meanwhile (the next read
    // returns the final snapshot).
  }
  throw new Error(`Could not cancel response ${id}: the event log kept growing for ${MAX_ATTEMPTS} attempts.`);
}

/** How often a running turn checks whether its response was cancelled or deleted (without a hub: every time). */
export const CLOSED_POLL_MS = 250;

/**
 * With a hub, the safety read once the turn follows the channel: a record that expires mid-turn
 * publishes nothing (a cancel or a DELETE does publish its seal), and this is how it is still noticed.
 */
const SEALED_SAFETY_POLL_MS = 5_000;

/**
 * Calls `onClosed` once the response is sealed (cancelled, or finished elsewhere) or gone. A worker
 * waiting on a quiet upstream writes nothing, so it would never meet the writer's
 * ResponseClosedError: this is how it learns to stop. Returns the function that stops watching.
 * Read errors are ignored (Redis away): the turn's own writes fail and are handled there.
 *
 * Without `hub`, it reads the record's seal flag every `intervalMs`. With the process's hub, a
 * turn that is still running after `intervalMs` subscribes to the response's channel, where the
 * seal is published (`end`), reads the flag once the subscription is confirmed (a seal before it
 * is in the record), and then only every SEALED_SAFETY_POLL_MS: a long turn costs a subscription
 * instead of four reads a second, and a short one (most) costs nothing either way.
 */
export function watchClosed(store: ResponseStore, id: string, onClosed: (reason: 'sealed' | 'gone') => void, intervalMs = CLOSED_POLL_MS, hub?: LiveHub): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let subscription: LiveSubscription | null = null;
  const close = (reason: 'sealed' | 'gone') => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    subscription?.close();
    onClosed(reason);
  };
  /** Reads the flag; true while the response is open. */
  const check = async (): Promise<boolean> => {
    try {
      const [sealed, status] = await store.redis.hmget(store.keys.record(id), 'sealed', 'status');
      if (sealed === '1' || status === null) {
        close(sealed === '1' ? 'sealed' : 'gone');
        return false;
      }
    } catch {
      // See above: keep watching.
    }
    return !stopped;
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void tick(), ms);
    timer.unref();
  };
  const tick = async () => {
    if (stopped) return;
    if (!hub || subscription) {
      if (await check()) schedule(subscription ? SEALED_SAFETY_POLL_MS : intervalMs);
      return;
    }
    const sub = hub.open(store.keys.channel(id));
    subscription = sub;
    sub.attach((m) => {
      if (m.kind === 'resync') void check();
      else if (m.end) close('sealed');
    });
    try {
      await sub.ready;
    } catch {
      // No subscription (Redis away): back to reading the flag on the short interval.
      subscription = null;
      sub.close();
      schedule(intervalMs);
      return;
    }
    if (!stopped && (await check())) schedule(SEALED_SAFETY_POLL_MS);
  };
  schedule(intervalMs);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    subscription?.close();
  };
}
