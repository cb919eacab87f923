import { performance } from 'node:perf_hooks';
import { perOperation, redisCounters } from '../lib/redis-stats.ts';
import { Samples, round } from '../lib/stats.ts';
import { chatBody, COMPLETED, expectOk, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Scenario } from './types.ts';

const MAX_PAIRS = 20_000;

/**
 * One client, one request at a time: a direct upstream call, then the same request through Spool,
 * alternating, so both see the same machine state. Added latency = Spool percentile − direct percentile.
 */
export const latency: Scenario = async (bench) => {
  const { words } = bench.opts;
  const spool = await bench.startSpool('latency');
  const direct = upstreamClient(bench, 1);
  const client = spoolClient(spool, 1);
  const directBody = chatBody(`!words ${words}`);
  const spoolBody = responsesBody(`!words ${words}`);
  const d = new Samples();
  const s = new Samples();
  let errors = 0;
  const errorSamples = new Set<string>();
  const cpu = { value: {} as Record<string, number | null> };
  let redisPerResponse: ReturnType<typeof perOperation> | null = null;
  try {
    const warmEnd = performance.now() + bench.warmupMs;
    let meter = spool.cpuMeter();
    let end = Infinity;
    let pairs = 0;
    let countersBefore = await redisCounters(bench.redis.url);
    while (pairs < MAX_PAIRS) {
      const now = performance.now();
      const measured = now >= warmEnd;
      if (measured && end === Infinity) {
        end = now + bench.durationMs;
        meter = spool.cpuMeter();
        countersBefore = await redisCounters(bench.redis.url);
      }
      if (now >= end) break;
      if (measured) pairs++;
      try {
        let t = performance.now();
        expectOk(await direct.send('POST', '/chat/completions', directBody));
        if (measured) d.add(performance.now() - t);
        t = performance.now();
        expectOk(await client.send('POST', '/responses', spoolBody), COMPLETED);
        if (measured) s.add(performance.now() - t);
      } catch (err) {
        if (measured) {
          errors++;
          errorSamples.add((err as Error).message);
        }
      }
    }
    cpu.value = meter.since();
    // Only Spool talks to this Redis, so its counters over the window are Spool's cost per response.
    redisPerResponse = perOperation(countersBefore, await redisCounters(bench.redis.url), Math.max(1, s.count + errors));
  } finally {
    direct.close();
    client.close();
    await spool.stop();
  }
  const ds = d.summary();
  const ss = s.summary();
  const notes: string[] = [];
  if (errors > 0) notes.push(`${errors} errors: ${[...errorSamples].slice(0, 3).join('; ')}`);
  if (redisPerResponse) {
    const top = Object.entries(redisPerResponse.calls)
      .slice(0, 8)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    notes.push(`Redis work per response: ${redisPerResponse.commands} commands (${top}), ${redisPerResponse.bytesIn} bytes in, ${redisPerResponse.bytesOut} bytes out`);
  }
  return {
    scenario: 'latency',
    load: `1 client, sequential, alternating direct/Spool, ${bench.opts.duration} s measured (≤ ${MAX_PAIRS} pairs); non-streaming, ${words}-word answer`,
    rows: [
      row('latency', 'p50 latency', 'ms', round(ds.p50, 3), round(ss.p50, 3), { text: '≤ 2 ms added p50', check: 'overhead', max: 2 }),
      row('latency', 'p99 latency', 'ms', round(ds.p99, 3), round(ss.p99, 3), { text: '≤ 10 ms added p99', check: 'overhead', max: 10 }),
    ],
    notes,
    details: { direct: ds, spool: ss, errors, cpuPercent: cpu.value, redisPerResponse },
  };
};
