import { randomUUID } from 'node:crypto';
import type { InflightIndex, ResponseStore } from '@spool/redis';
import type { Logger } from '@spool/runtime';

/** BullMQ job states in which a turn will still run (or is running, or waits for its MCP children). */
const LIVE_STATES = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);

/** At most this many responses are looked at per sweep; more wait for the next interval. */
const SWEEP_LIMIT = 500;

export interface WatchdogDeps {
  index: InflightIndex;
  store: ResponseStore;
  /** The BullMQ states of a response's turn jobs, one per turn number ('unknown' when there is none). */
  turnStates(responseId: string): Promise<string[]>;
  /** Seals the response `failed` with `server_error` and `message` (failFromLog); false if it was sealed already. */
  fail(responseId: string, message: string): Promise<boolean>;
  staleAfterMs: number;
  now: () => number;
}

/** Why the work of an open response is gone, from its turn jobs' states; null while some will still run. */
export function lostWork(states: readonly string[]): string | null {
  if (states.some((s) => LIVE_STATES.has(s))) return null;
  if (states.includes('failed')) return 'its turn job failed after all its attempts';
  if (states.includes('completed')) return 'its last turn job ended without finishing it';
  return 'its turn job is no longer in the queue';
}

export function lostWorkMessage(why: string): string {
  return `The response was stopped by the server's watchdog: its work was lost (${why}). Retry the request.`;
}

/**
 * One look at the responses due for a check: sealed or gone ones leave the index, those whose
 * work is alive are looked at again `staleAfterMs` later, and those whose work is gone are failed.
 * Returns the ids it failed.
 */
export async function sweep(deps: WatchdogDeps): Promise<{ failed: string[]; errors: Array<{ id: string; err: unknown }> }> {
  const now = deps.now();
  const failed: string[] = [];
  const errors: Array<{ id: string; err: unknown }> = [];
  for (const id of await deps.index.due(now, SWEEP_LIMIT)) {
    try {
      const { exists, sealed } = await deps.store.sealState(id);
      if (!exists || sealed) {
        await deps.index.remove(id);
        continue;
      }
      const why = lostWork(await deps.turnStates(id));
      if (why === null) {
        await deps.index.postpone(id, now + deps.staleAfterMs);
        continue;
      }
      if (await deps.fail(id, lostWorkMessage(why))) failed.push(id);
      await deps.index.remove(id);
    } catch (err) {
      // One response that cannot be handled must not hold up the others (it is the most overdue,
      // so it would come first in every sweep): it is tried again a stale period later.
      errors.push({ id, err });
      await deps.index.postpone(id, now + deps.staleAfterMs).catch(() => undefined);
    }
  }
  return { failed, errors };
}

export interface RunningWatchdog {
  stop(): Promise<void>;
}

/**
 * Runs `sweep` every `intervalMs` in whichever process takes the interval's lock first, so one
 * sweep runs per interval however many LLM processes there are. A failed sweep (Redis away) is
 * logged and tried again at the next interval.
 */
export function startWatchdog(deps: WatchdogDeps & { intervalMs: number; logger: Logger }): RunningWatchdog {
  const token = randomUUID();
  let running: Promise<void> | null = null;
  const tick = () => {
    if (running) return;
    running = (async () => {
      if (!(await deps.index.takeTurn(token, deps.intervalMs))) return;
      const { failed, errors } = await sweep(deps);
      for (const id of failed) deps.logger.warn({ responseId: id }, 'watchdog failed a response whose work was lost');
      // The error's name only: a parse error's message can quote the state, and so a prompt.
      for (const { id, err } of errors) deps.logger.error({ responseId: id, error: (err as Error)?.name }, 'watchdog could not check a response');
    })()
      .catch((err: unknown) => deps.logger.debug({ err: (err as Error)?.message }, 'watchdog sweep failed'))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, deps.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
