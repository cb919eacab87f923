import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createKeys } from '@spool/contracts';
import { BENCH_PREFIX, topologyName, type Bench } from '../harness.ts';
import { openLoop, type LoadResult } from '../lib/load.ts';
import { Samples, round, type Summary } from '../lib/stats.ts';
import { chatBody, expectOk, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Row, type Scenario } from './types.ts';

const MAX_IN_FLIGHT = 2_000;
/** Used when `--rate auto` and the throughput scenario did not run with this topology. */
const FALLBACK_RATE = 250;

/**
 * The rate for a topology: `--rate`, or 90 % of the responses/s the throughput scenario of this
 * run completed with the same processes (a closed loop's rate is the most the machine completes;
 * an open loop exactly at it would queue without bound from its own jitter).
 */
function rateFor(bench: Bench, workers: number): { rate: number; from: string } {
  if (bench.opts.rate !== 'auto') return { rate: bench.opts.rate, from: '--rate' };
  const measured = bench.completedRate.get(workers);
  if (measured === undefined || measured < 10) return { rate: FALLBACK_RATE, from: 'the default (throughput did not run with this topology)' };
  return { rate: Math.max(10, Math.floor((measured * 0.9) / 10) * 10), from: `90 % of the throughput scenario's ${round(measured, 0)}/s` };
}

interface Overload {
  load: LoadResult;
  /** Every create answer's time, admitted or refused. */
  all: Summary;
  admitted: number;
  refused: number;
  /** Refusals without a `Retry-After` header. */
  refusedWithoutRetryAfter: number;
}

/**
 * Background creates arriving at a fixed rate (open loop), per topology of `--compare-workers`,
 * a fresh Spool each: at the rate the machine completes, the create's answer time and the time to
 * `completed` (the terminal event seen on the response channels by a pattern subscription, so
 * measuring adds no HTTP load to Spool); then at twice that rate (overload), every create's answer
 * time, admitted (the queued Response) or refused (429/503 with `Retry-After`). Direct baseline:
 * the same upstream call at the first rate.
 */
export const background: Scenario = async (bench) => {
  const { words } = bench.opts;
  const topologies = [...new Set([bench.opts.workers, ...bench.opts.compareWorkers])];
  // Bounded: as long as the load phase, between 5 and 30 s.
  const drainMs = Math.min(30_000, Math.max(5_000, bench.durationMs));
  const keys = createKeys(BENCH_PREFIX);
  const spoolBody = responsesBody(`!words ${words}`, { background: true });
  const rows: Row[] = [];
  const notes: string[] = [];
  const cpu: Record<string, Record<string, number | null>> = {};
  const details: Record<string, unknown> = {};

  let direct: LoadResult | null = null;
  for (const workers of topologies) {
    const { rate, from } = rateFor(bench, workers);
    const name = topologyName(workers);
    const spool = await bench.startSpool('background', {}, workers);
    const watcher = new Redis(bench.redis.url, { maxRetriesPerRequest: null });
    const completedAt = new Map<string, number>();
    let failed = 0;
    watcher.on('pmessage', (_pattern: string, channel: string, message: string) => {
      if (!message.includes('\tresponse.completed\t') && !message.includes('\tresponse.failed\t')) return;
      const now = performance.now();
      const id = channel.slice(channel.indexOf('{') + 1, channel.lastIndexOf('}'));
      if (message.includes('\tresponse.failed\t')) failed++;
      else completedAt.set(id, now);
    });
    // The key builder names channels; `*` as the id turns it into the pattern of all of them.
    await watcher.psubscribe(keys.channel('*'));
    const sentAt = new Map<string, number>();
    let s: LoadResult;
    let overload: Overload;
    let drainedMs = 0;
    try {
      if (workers === bench.opts.workers) {
        const up = upstreamClient(bench, MAX_IN_FLIGHT);
        const directBody = chatBody(`!words ${words}`);
        const meter = spool.cpuMeter();
        direct = await openLoop({
          rate,
          warmupMs: bench.warmupMs,
          durationMs: bench.durationMs,
          maxOps: rate * (bench.opts.duration + 10),
          maxInFlight: MAX_IN_FLIGHT,
          op: async () => void expectOk(await up.send('POST', '/chat/completions', directBody)),
        });
        cpu.direct = meter.since();
        up.close();
      }
      const client = spoolClient(spool, MAX_IN_FLIGHT);
      let meter = spool.cpuMeter();
      s = await openLoop({
        rate,
        warmupMs: bench.warmupMs,
        durationMs: bench.durationMs,
        maxOps: rate * (bench.opts.duration + 10),
        maxInFlight: MAX_IN_FLIGHT,
        op: async (measured) => {
          const t0 = performance.now();
          const reply = expectOk(await client.send('POST', '/responses', spoolBody), '"status":"queued"');
          const id = /"id":"(resp_[^"]+)"/.exec(reply.body)?.[1];
          if (!id) throw new Error('no id in the create answer');
          if (measured) sentAt.set(id, t0);
        },
      });
      cpu[`${name} at ${rate}/s`] = meter.since();
      // Let the queue drain (bounded) so every measured response has its completion time.
      const drainStart = performance.now();
      while (performance.now() - drainStart < drainMs) {
        let missing = 0;
        for (const id of sentAt.keys()) if (!completedAt.has(id)) missing++;
        if (missing === 0) break;
        await sleep(100);
      }
      drainedMs = performance.now() - drainStart;

      // Overload: twice the rate. Every answer counts, whichever it is; the backlog is left behind.
      const all = new Samples();
      let admitted = 0;
      let refused = 0;
      let refusedWithoutRetryAfter = 0;
      meter = spool.cpuMeter();
      const load = await openLoop({
        rate: rate * 2,
        warmupMs: bench.warmupMs,
        durationMs: bench.durationMs,
        maxOps: rate * 2 * (bench.opts.duration + 10),
        maxInFlight: MAX_IN_FLIGHT,
        op: async (measured) => {
          const t0 = performance.now();
          const reply = await client.send('POST', '/responses', spoolBody);
          const refusal = reply.status === 429 || reply.status === 503;
          if (!refusal) expectOk(reply, '"status":"queued"');
          if (!measured) return;
          all.add(performance.now() - t0);
          if (!refusal) admitted++;
          else {
            refused++;
            if (!reply.retryAfter) refusedWithoutRetryAfter++;
          }
        },
      });
      cpu[`${name} at ${rate * 2}/s`] = meter.since();
      client.close();
      overload = { load, all: all.summary(), admitted, refused, refusedWithoutRetryAfter };
    } finally {
      watcher.disconnect();
      await spool.stop();
    }
    const toCompleted = new Samples();
    let incomplete = 0;
    for (const [id, t0] of sentAt) {
      const t1 = completedAt.get(id);
      if (t1 === undefined) incomplete++;
      else toCompleted.add(t1 - t0);
    }
    const tc = toCompleted.summary();
    if (s.errors > 0) notes.push(`${name} at ${rate}/s: ${s.errors} creates failed: ${s.errorSamples.join('; ')}`);
    if (s.skipped > 0) notes.push(`${name} at ${rate}/s: ${s.skipped} arrivals skipped (over ${MAX_IN_FLIGHT} in flight)`);
    if (incomplete > 0 || failed > 0) notes.push(`${name} at ${rate}/s: ${incomplete} responses not completed within ${drainMs / 1000} s of the end, ${failed} failed`);
    notes.push(
      `${name}: ${rate}/s (${from}); at ${rate * 2}/s ${overload.admitted} creates admitted and ${overload.refused} refused (429/503${overload.refusedWithoutRetryAfter > 0 ? `, ${overload.refusedWithoutRetryAfter} without Retry-After` : ''}), ` +
        `answer p50 ${round(overload.all.p50)} ms, p99 ${round(overload.all.p99)} ms, max ${round(overload.all.max)} ms` +
        (overload.load.errors > 0 ? `; ${overload.load.errors} errors: ${overload.load.errorSamples.join('; ')}` : '') +
        (overload.load.skipped > 0 ? `; ${overload.load.skipped} arrivals skipped (over ${MAX_IN_FLIGHT} in flight)` : ''),
    );
    const createRow = row('background', `create answer p99 at ${rate}/s (${name})`, 'ms', null, round(s.latency.p99), { text: '≤ 5 ms p99', check: 'spool', max: 5 });
    if (s.errors > 0 || s.skipped > 0) createRow.holds = false;
    const overloadRow = row('background', `create answer max at ${rate * 2}/s, admitted or refused (${name})`, 'ms', null, round(overload.all.max), { text: '≤ 50 ms', check: 'spool', max: 50 });
    if (overload.load.errors > 0 || overload.load.skipped > 0 || overload.refusedWithoutRetryAfter > 0) overloadRow.holds = false;
    const dl = direct?.latency ?? null;
    rows.push(
      row('background', `create answer p50 at ${rate}/s (${name})`, 'ms', null, round(s.latency.p50), null),
      createRow,
      row('background', `time to completed p50 (${name})`, 'ms', dl ? round(dl.p50) : null, round(tc.p50), null),
      row('background', `time to completed p99 (${name})`, 'ms', dl ? round(dl.p99) : null, round(tc.p99), null),
      overloadRow,
    );
    details[name] = { rate, rateFrom: from, spoolCreate: s, toCompleted: tc, incomplete, failed, drainedMs, overload };
  }
  return {
    scenario: 'background',
    load: `open loop, background: true, ${words}-word answer, ${bench.opts.duration} s at the rate each topology completes, then ${bench.opts.duration} s at twice it; Spool in ${topologies.map(topologyName).join(', ')}, a fresh Spool each; direct: the upstream call at the first rate`,
    rows,
    notes,
    details: { direct, ...details, cpuPercent: cpu },
  };
};
