import { describe, expect, it } from 'vitest';
import type { EventDraft } from '@spool/protocol';
import { ProgressEvents } from './progress.ts';

function harness(intervalMs = 1000) {
  let now = 0;
  const written: EventDraft[] = [];
  const errors: unknown[] = [];
  let hold: Promise<void> = Promise.resolve();
  let fail = false;
  const progress = new ProgressEvents({
    itemId: 'mcp_1',
    outputIndex: 2,
    intervalMs,
    now: () => now,
    append: async (events) => {
      await hold;
      if (fail) throw new Error('redis down');
      written.push(...events);
    },
    onError: (err) => errors.push(err),
  });
  return {
    progress,
    written,
    errors,
    tick: (ms: number) => void (now += ms),
    holdWrites: () => {
      let release!: () => void;
      hold = new Promise((r) => (release = r));
      return release;
    },
    failWrites: () => void (fail = true),
  };
}

describe('ProgressEvents', () => {
  it('turns the first notification into an mcp_call.in_progress event of the call item', async () => {
    const h = harness();
    h.progress.report();
    await h.progress.close();
    expect(h.written).toEqual([{ type: 'response.mcp_call.in_progress', item_id: 'mcp_1', output_index: 2 }]);
  });

  it('writes at most one event per interval, however often the server reports', async () => {
    const h = harness(1000);
    for (let i = 0; i < 50; i++) {
      h.progress.report();
      h.tick(100); // 50 notifications over 5 s
    }
    await h.progress.close();
    expect(h.written).toHaveLength(5);
  });

  it('close() waits for events in flight and stops later ones, so none follows the result', async () => {
    const h = harness(10);
    const release = h.holdWrites();
    h.progress.report();
    let closed = false;
    const closing = h.progress.close().then(() => (closed = true));
    await Promise.resolve();
    expect(closed).toBe(false);
    release();
    await closing;
    expect(h.written).toHaveLength(1);
    h.tick(1000);
    h.progress.report();
    await Promise.resolve();
    expect(h.written).toHaveLength(1);
  });

  it('a failed append is reported, never thrown into the call', async () => {
    const h = harness();
    h.failWrites();
    expect(() => h.progress.report()).not.toThrow();
    await h.progress.close();
    expect(h.written).toEqual([]);
    expect(h.errors).toHaveLength(1);
  });
});
