import { describe, expect, it } from 'vitest';
import type { InflightIndex, ResponseStore } from '@spool/redis';
import { lostWork, lostWorkMessage, sweep, type WatchdogDeps } from './watchdog.ts';

describe('lostWork', () => {
  it('says the work is alive while any turn job will still run, or waits for its MCP children', () => {
    for (const live of ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']) {
      expect(lostWork(['unknown', live, 'unknown'])).toBeNull();
      // An earlier turn that failed does not matter while a later one runs.
      expect(lostWork(['failed', live])).toBeNull();
    }
  });

  it('names why the work is gone: failed for good, ended without sealing, or not in the queue at all', () => {
    expect(lostWork(['failed', 'unknown'])).toMatch(/failed after all its attempts/);
    expect(lostWork(['completed', 'unknown'])).toMatch(/ended without finishing it/);
    expect(lostWork(['unknown', 'unknown'])).toMatch(/no longer in the queue/);
    expect(lostWorkMessage('x')).toMatch(/^The response was stopped by the server's watchdog: its work was lost \(x\)\./);
  });
});

describe('sweep', () => {
  /** The index and the record states as plain maps: fakes of our own ports, not of Redis. */
  function world(entries: Record<string, { due: number; sealed?: boolean; gone?: boolean; states: string[]; failThrows?: boolean }>) {
    const due = new Map(Object.entries(entries).map(([id, e]) => [id, e.due]));
    const failedIds: string[] = [];
    const deps: WatchdogDeps = {
      index: {
        due: async (now: number, limit: number) =>
          [...due]
            .filter(([, at]) => at <= now)
            .sort((a, b) => a[1] - b[1])
            .slice(0, limit)
            .map(([id]) => id),
        postpone: async (id: string, at: number) => void (due.has(id) && due.set(id, at)),
        remove: async (id: string) => void due.delete(id),
      } as unknown as InflightIndex,
      store: {
        sealState: async (id: string) => ({ exists: !entries[id]?.gone, sealed: entries[id]?.sealed === true }),
      } as unknown as ResponseStore,
      turnStates: async (id) => entries[id]?.states ?? [],
      fail: async (id) => {
        if (entries[id]?.failThrows) throw new SyntaxError('cannot');
        failedIds.push(id);
        return true;
      },
      staleAfterMs: 1000,
      now: () => 10_000,
    };
    return { deps, due, failedIds };
  }

  it('drops sealed and gone responses, looks again later at live ones, fails lost ones, and leaves those not due', async () => {
    const { deps, due, failedIds } = world({
      sealed: { due: 1, sealed: true, states: [] },
      gone: { due: 2, gone: true, states: [] },
      live: { due: 3, states: ['unknown', 'active'] },
      lost: { due: 4, states: ['failed'] },
      later: { due: 20_000, states: [] },
    });
    const { failed, errors } = await sweep(deps);
    expect(failed).toEqual(['lost']);
    expect(failedIds).toEqual(['lost']);
    expect(errors).toEqual([]);
    expect(Object.fromEntries(due)).toEqual({ live: 11_000, later: 20_000 });
  });

  it('does not let one response that cannot be handled hold up the others', async () => {
    const { deps, due, failedIds } = world({ poison: { due: 1, states: [], failThrows: true }, lost: { due: 2, states: [] } });
    const { failed, errors } = await sweep(deps);
    expect(failed).toEqual(['lost']);
    expect(failedIds).toEqual(['lost']);
    expect(errors.map((e) => e.id)).toEqual(['poison']);
    // Tried again a stale period later, not at the head of every sweep.
    expect(due.get('poison')).toBe(11_000);
  });
});
