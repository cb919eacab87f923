import { performance } from 'node:perf_hooks';
import { Samples, type Summary } from './stats.ts';

/** One operation of a load run; it throws to count as an error. `measured` is false during warm-up. */
export type Operation = (measured: boolean) => Promise<void>;

export interface LoadResult {
  /** Length of the measured window (after warm-up), in ms. */
  windowMs: number;
  /** Operations that succeeded and finished inside the measured window. */
  completedInWindow: number;
  /** Successful operations started inside the window (their latencies are in `latency`). */
  ok: number;
  errors: number;
  /** The first few distinct error messages, to say what failed. */
  errorSamples: string[];
  /** Operations the open loop could not start because `maxInFlight` were already running. */
  skipped: number;
  latency: Summary;
  /** Operations per second: completedInWindow / windowMs. */
  rate: number;
  /** Completions in each second of the window: shows a rate that decays as the run goes on. */
  perSecond: number[];
}

interface Tally {
  samples: Samples;
  ok: number;
  errors: number;
  completedInWindow: number;
  perSecond: number[];
  errorSamples: Set<string>;
}

function newTally(): Tally {
  return { samples: new Samples(), ok: 0, errors: 0, completedInWindow: 0, perSecond: [], errorSamples: new Set() };
}

async function runOne(op: Operation, t: Tally, windowStart: number, windowEnd: number): Promise<void> {
  const start = performance.now();
  const measured = start >= windowStart;
  try {
    await op(measured);
    const end = performance.now();
    if (measured) {
      t.ok++;
      t.samples.add(end - start);
    }
    if (end >= windowStart && end <= windowEnd) {
      t.completedInWindow++;
      const second = Math.floor((end - windowStart) / 1000);
      t.perSecond[second] = (t.perSecond[second] ?? 0) + 1;
    }
  } catch (err) {
    if (measured) {
      t.errors++;
      if (t.errorSamples.size < 5) t.errorSamples.add((err as Error).message ?? String(err));
    }
  }
}

function result(t: Tally, windowMs: number, skipped: number): LoadResult {
  return {
    windowMs,
    completedInWindow: t.completedInWindow,
    ok: t.ok,
    errors: t.errors,
    errorSamples: [...t.errorSamples],
    skipped,
    latency: t.samples.summary(),
    rate: t.completedInWindow / (windowMs / 1000),
    perSecond: Array.from({ length: Math.ceil(windowMs / 1000) }, (_, i) => t.perSecond[i] ?? 0),
  };
}

/**
 * Closed loop: `concurrency` clients, each sending its next request when the previous one is
 * answered, for warm-up + duration, never more than `maxOps` operations in all. Measures what the
 * server sustains at that concurrency (throughput) and the latency it gives while doing so.
 */
export async function closedLoop(opts: { concurrency: number; warmupMs: number; durationMs: number; maxOps: number; op: Operation }): Promise<LoadResult> {
  const t = newTally();
  const begin = performance.now();
  const windowStart = begin + opts.warmupMs;
  const windowEnd = windowStart + opts.durationMs;
  let started = 0;
  const client = async () => {
    while (performance.now() < windowEnd && started < opts.maxOps) {
      started++;
      await runOne(opts.op, t, windowStart, windowEnd);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  const windowMs = Math.min(performance.now(), windowEnd) - windowStart;
  return result(t, windowMs, 0);
}

/**
 * Open loop: starts operations at a fixed `rate` per second whatever the answers do (the arrival
 * pattern of independent clients), so a slow server shows as latency, not as a lower request rate.
 * At most `maxInFlight` run at once; beyond that an arrival is counted as skipped.
 */
export async function openLoop(opts: { rate: number; warmupMs: number; durationMs: number; maxOps: number; maxInFlight: number; op: Operation }): Promise<LoadResult> {
  const t = newTally();
  const begin = performance.now();
  const windowStart = begin + opts.warmupMs;
  const windowEnd = windowStart + opts.durationMs;
  let sent = 0;
  let skipped = 0;
  let inFlight = 0;
  const running = new Set<Promise<void>>();
  await new Promise<void>((done) => {
    // A 1 ms timer, catching up on every tick: timers are coarse, the schedule is not.
    const timer = setInterval(() => {
      const now = performance.now();
      if (now >= windowEnd || sent >= opts.maxOps) {
        clearInterval(timer);
        done();
        return;
      }
      const due = Math.floor(((now - begin) * opts.rate) / 1000);
      while (sent < due && sent < opts.maxOps) {
        sent++;
        if (inFlight >= opts.maxInFlight) {
          if (now >= windowStart) skipped++;
          continue;
        }
        inFlight++;
        const p = runOne(opts.op, t, windowStart, windowEnd).finally(() => {
          inFlight--;
          running.delete(p);
        });
        running.add(p);
      }
    }, 1);
  });
  await Promise.all(running);
  return result(t, opts.durationMs, skipped);
}
