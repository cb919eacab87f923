/** A registration with `QuietTimers`: `touch()` on activity, `stop()` when done. */
export interface QuietHandle {
  touch(): void;
  stop(): void;
}

class Entry implements QuietHandle {
  last: number;
  constructor(
    private readonly owner: QuietTimers,
    readonly fn: () => void,
  ) {
    this.last = Date.now();
  }
  touch(): void {
    this.last = Date.now();
  }
  stop(): void {
    this.owner.remove(this);
  }
}

const shared = new Map<number, QuietTimers>();

/**
 * One timer for many things that each want a call once they have been quiet for `ms`: an SSE
 * stream's keepalive comment, a reader's safety re-read of the log. A stream that is writing needs
 * neither, so only quiet ones get them, and a process with thousands of readers runs one interval
 * instead of thousands. Each thing is called once it has been quiet for `ms`, then again every `ms`
 * while it stays quiet; the check runs every `ms / 4` (at most every second), so the calls spread as
 * the things' own activity spreads them rather than coming all at once.
 */
export class QuietTimers {
  private readonly entries = new Set<Entry>();
  private timer: NodeJS.Timeout | null = null;
  private readonly period: number;

  constructor(private readonly ms: number) {
    this.period = Math.max(1, Math.min(1000, Math.floor(ms / 4)));
  }

  /** The instance for `ms`, shared by everything in this process that waits that long. */
  static every(ms: number): QuietTimers {
    let t = shared.get(ms);
    if (!t) {
      t = new QuietTimers(ms);
      shared.set(ms, t);
    }
    return t;
  }

  watch(fn: () => void): QuietHandle {
    const entry = new Entry(this, fn);
    this.entries.add(entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.period);
      this.timer.unref();
    }
    return entry;
  }

  /** @internal through QuietHandle.stop */
  remove(entry: Entry): void {
    this.entries.delete(entry);
    if (this.entries.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private tick(): void {
    const now = Date.now();
    for (const entry of this.entries) {
      if (now - entry.last < this.ms) continue;
      entry.last = now;
      entry.fn();
    }
  }
}
