import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createKeys } from '@spool/contracts';
import { BENCH_PREFIX } from '../harness.ts';
import { openLoop } from '../lib/load.ts';
import { Samples, round } from '../lib/stats.ts';
import { chatBody, expectOk, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Scenario } from './types.ts';


/**
 * Background creates arriving at a fixed rate (open loop). The create's answer time is what the
 * client waits for; time to `completed` is when the terminal event is published, observed on the
 * response channels with a pattern subscription (what any reader would be woken by), so measuring
 * it adds no HTTP load to Spool. Direct baseline: the same upstream call at the same rate.
 */
export const background: Scenario = async (bench) => {
  const { rate, words } = bench.opts;
  const maxInFlight = 2_000;
  // Bounded: as long as the load phase, between 5 and 30 s.
  const drainMs = Math.min(30_000, Math.max(5_000, bench.durationMs));
  const spool = await bench.startSpool('background');
  const keys = createKeys(BENCH_PREFIX);
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
  const cpu: Record<string, Record<string, number | null>> = {};
  let d;
  let s;
  let drainedMs = 0;
  try {
    const up = upstreamClient(bench, maxInFlight);
    const directBody = chatBody(`!words ${words}`);
    let meter = spool.cpuMeter();
    d = await openLoop({
      rate,
      warmupMs: bench.warmupMs,
      durationMs: bench.durationMs,
      maxOps: rate * (bench.opts.duration + 10),
      maxInFlight,
      op: async () => void expectOk(await up.send('POST', '/chat/completions', directBody)),
    });
    cpu.direct = meter.since();
    up.close();

    const client = spoolClient(spool, maxInFlight);
    const spoolBody = responsesBody(`!words ${words}`, { background: true });
    meter = spool.cpuMeter();
    s = await openLoop({
      rate,
      warmupMs: bench.warmupMs,
      durationMs: bench.durationMs,
      maxOps: rate * (bench.opts.duration + 10),
      maxInFlight,
      op: async (measured) => {
        const t0 = performance.now();
        const reply = expectOk(await client.send('POST', '/responses', spoolBody), '"status":"queued"');
        const id = /"id":"(resp_[^"]+)"/.exec(reply.body)?.[1];
        if (!id) throw new Error('no id in the create answer');
        if (measured) sentAt.set(id, t0);
      },
    });
    cpu.spool = meter.since();
    client.close();
    // Let the queue drain (bounded) so every measured response has its completion time.
    const drainStart = performance.now();
    while (performance.now() - drainStart < drainMs) {
      let missing = 0;
      for (const id of sentAt.keys()) if (!completedAt.has(id)) missing++;
      if (missing === 0) break;
      await sleep(100);
    }
    drainedMs = performance.now() - drainStart;
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
  const notes: string[] = [];
  if (s.errors > 0) notes.push(`${s.errors} creates failed: ${s.errorSamples.join('; ')}`);
  if (s.skipped > 0) notes.push(`${s.skipped} arrivals skipped (over ${maxInFlight} in flight)`);
  if (incomplete > 0 || failed > 0) notes.push(`${incomplete} responses not completed within ${drainMs / 1000} s of the end, ${failed} failed`);
  const createRow = row('background', 'create answer p99', 'ms', null, round(s.latency.p99), { text: '≤ 5 ms p99', check: 'spool', max: 5 });
  if (s.errors > 0 || s.skipped > 0) createRow.holds = false;
  return {
    scenario: 'background',
    load: `open loop, ${rate} creates/s (background: true, ${words}-word answer) for ${bench.opts.duration} s; direct: the upstream call at ${rate}/s`,
    rows: [
      row('background', 'create answer p50', 'ms', null, round(s.latency.p50), null),
      createRow,
      row('background', 'time to completed p50', 'ms', round(d.latency.p50), round(tc.p50), null),
      row('background', 'time to completed p99', 'ms', round(d.latency.p99), round(tc.p99), null),
      row('background', 'creates answered/s', '/s', round(d.rate, 0), round(s.rate, 0), null),
    ],
    notes,
    details: { direct: d, spoolCreate: s, toCompleted: tc, incomplete, failed, drainedMs, cpuPercent: cpu },
  };
};
