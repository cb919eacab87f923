import type { EventDraft } from '@spool/protocol';

/**
 * Turns an MCP tool's progress notifications into `response.mcp_call.in_progress` events of the
 * call's item, appended to the response's event log by the executor itself (any process may append:
 * sequence numbers are assigned where the event is written).
 *
 * Why this event: it is in the openai SDK's event union, its accumulator accepts repeats (it only
 * sets the item's status to `in_progress` again) and `responses.stream()` passes it through, so a
 * client watching a long call sees it alive without learning a Spool-only event. It carries no
 * progress numbers (the event has no field for them).
 *
 * Rate limit: at most one event per `intervalMs`, on the leading edge; notifications in between are
 * dropped, since the event says only "still working" and the result follows anyway. A server that
 * reports every millisecond costs the log one entry a second, not a thousand.
 */
export class ProgressEvents {
  #last = -Infinity;
  #closed = false;
  #pending = new Set<Promise<unknown>>();

  constructor(
    private readonly opts: {
      itemId: string;
      outputIndex: number;
      intervalMs: number;
      now: () => number;
      append: (events: EventDraft[]) => Promise<unknown>;
      /** A failed append loses one "still alive" event, never the call; the service logs it. */
      onError: (err: unknown) => void;
    },
  ) {}

  /** One progress notification arrived. */
  report(): void {
    if (this.#closed) return;
    const now = this.opts.now();
    if (now - this.#last < this.opts.intervalMs) return;
    this.#last = now;
    const event: EventDraft = { type: 'response.mcp_call.in_progress', item_id: this.opts.itemId, output_index: this.opts.outputIndex };
    const write = this.opts.append([event]).catch((err: unknown) => this.opts.onError(err));
    this.#pending.add(write);
    void write.finally(() => this.#pending.delete(write));
  }

  /**
   * No more events, and resolves once those already sent are in the log. Called before the job
   * returns its result: the next turn closes the item with `mcp_call.completed`, and a late
   * `in_progress` after that would turn a finished item back to in progress in clients' snapshots.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pending]);
  }
}
