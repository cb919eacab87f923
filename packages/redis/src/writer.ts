import { applyEvent, type EventDraft, type LifecycleEvent, type LifecycleType, type Response, type ResponseStatus } from '@spool/protocol';
import { APPEND_GONE, APPEND_SEALED, snapshotEvent, splitEvent, type ResponseStore, type SplitEvent } from './store.ts';

export interface WriterOptions {
  store: ResponseStore;
  responseId: string;
  snapshot: Response;
  /** Retention, applied again by every write: it counts from the last one (a long run keeps its record). */
  ttlSeconds: number;
  /** The stored snapshot (what a poll sees) is refreshed at most this often during deltas. */
  snapshotIntervalMs?: number;
}

/** Thrown when the response was sealed by someone else (cancelled) or deleted: stop working on it. */
export class ResponseClosedError extends Error {
  override readonly name = 'ResponseClosedError';
  constructor(readonly reason: 'sealed' | 'gone') {
    super(reason === 'sealed' ? 'The response was already finished or cancelled.' : 'The response no longer exists.');
  }
}

/**
 * Emits a response's events. Every event updates the in-memory snapshot (so the snapshot is always
 * derived from the events), and the events produced within one tick go to Redis in one script call,
 * so a burst of token deltas costs one round trip instead of one each.
 */
export class ResponseWriter {
  readonly snapshot: Response;
  /** Events serialised when emitted: later changes to the snapshot cannot leak into them. */
  private batch: SplitEvent[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private scheduled = false;
  private lastSnapshotAt = 0;
  private snapshotDue = false;
  /** Why appends stop; the error object is built only where one is thrown (not on every seal). */
  private closed: 'sealed' | 'gone' | null = null;
  /** Set by finish(): the terminal write carries everything queued before it. */
  private finishing = false;
  private readonly interval: number;

  constructor(private readonly opts: WriterOptions) {
    this.snapshot = opts.snapshot;
    this.interval = opts.snapshotIntervalMs ?? 200;
  }

  get isClosed(): boolean {
    return this.closed !== null;
  }

  /** Queues an event; it is written with the others of this tick. Throws once the response is closed. */
  emit(event: EventDraft): void {
    if (this.closed) throw new ResponseClosedError(this.closed);
    applyEvent(this.snapshot, event);
    this.batch.push(splitEvent(event));
    if (event.type === 'response.output_item.done' || (event.type.startsWith('response.') && 'response' in event)) {
      this.snapshotDue = true;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        // finish() took the batch already: nothing is left to write, and no error to build.
        if (this.closed || this.finishing) return;
        void this.flush().catch(() => undefined);
      });
    }
  }

  /**
   * Writes what is queued; resolves when it is in Redis. Rejects with ResponseClosedError when
   * closed. `withSnapshot` forces the stored snapshot up to date: a handover to another process
   * (the next turn) must start from the exact state, not a throttled one.
   */
  flush(withSnapshotNow = false): Promise<void> {
    if (withSnapshotNow) this.snapshotDue = true;
    const events = this.batch;
    this.batch = [];
    if (events.length === 0 && !this.snapshotDue) return this.flushing.then(() => this.throwIfClosed());
    const now = Date.now();
    const withSnapshot = this.snapshotDue || now - this.lastSnapshotAt >= this.interval;
    if (withSnapshot) {
      this.snapshotDue = false;
      this.lastSnapshotAt = now;
    }
    const snapshot = withSnapshot ? JSON.stringify(this.snapshot) : undefined;
    this.flushing = this.flushing.then(async () => {
      if (this.closed) return;
      const ttlSeconds = this.opts.ttlSeconds;
      const r = await this.opts.store.append(this.opts.responseId, events, snapshot ? { snapshot, ttlSeconds } : { ttlSeconds });
      this.checkResult(r);
    });
    return this.flushing.then(() => this.throwIfClosed());
  }

  /**
   * Emits the terminal event and seals the response in the same write. The event's response
   * becomes the snapshot, and is written once: the log's terminal event is built around the stored
   * snapshot (a snapshotEvent). Resolves false if the response had been sealed before (a cancel won
   * the race): nothing was written then.
   */
  async finish(terminal: LifecycleEvent, status: ResponseStatus): Promise<boolean> {
    if (this.closed) return false;
    this.finishing = true;
    applyEvent(this.snapshot, terminal);
    const events = [...this.batch, snapshotEvent(terminal.type)];
    this.batch = [];
    const snapshot = JSON.stringify(this.snapshot);
    let sealedByUs = false;
    this.flushing = this.flushing.then(async () => {
      if (this.closed) return;
      const r = await this.opts.store.append(this.opts.responseId, events, {
        snapshot,
        status,
        seal: true,
        ttlSeconds: this.opts.ttlSeconds,
      });
      this.checkResult(r);
      sealedByUs = !this.closed;
      if (sealedByUs) this.closed = 'sealed';
    });
    await this.flushing;
    return sealedByUs;
  }

  /**
   * Moves to `status` with its lifecycle event (queued → in_progress), whose response is the
   * snapshot, written with it in one call.
   */
  async setStatus(status: ResponseStatus, type: LifecycleType): Promise<void> {
    if (this.closed) throw new ResponseClosedError(this.closed);
    this.snapshot.status = status;
    const events = [...this.batch, snapshotEvent(type)];
    this.batch = [];
    const snapshot = JSON.stringify(this.snapshot);
    this.flushing = this.flushing.then(async () => {
      if (this.closed) return;
      this.checkResult(await this.opts.store.append(this.opts.responseId, events, { snapshot, status, ttlSeconds: this.opts.ttlSeconds }));
    });
    await this.flushing;
    this.throwIfClosed();
  }

  private checkResult(r: number): void {
    if (r === APPEND_SEALED) this.closed = 'sealed';
    else if (r === APPEND_GONE) this.closed = 'gone';
  }

  private throwIfClosed(): void {
    if (this.closed) throw new ResponseClosedError(this.closed);
  }
}
