import { closedLoop, type LoadResult } from '../lib/load.ts';
import { perOperation, redisCounters } from '../lib/redis-stats.ts';
import { round } from '../lib/stats.ts';
import { chatBody, COMPLETED, expectOk, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Scenario } from './types.ts';

/**
 * Closed loop, `concurrency` clients, non-streaming: first straight at the upstream, then through
 * Spool, each for the full duration. Reports responses/s and p99 at that concurrency.
 */
export const throughput: Scenario = async (bench) => {
  const { concurrency, words } = bench.opts;
  // Bounded by count as well as time: at most 5,000 responses/s for the whole window.
  const maxOps = 5_000 * (bench.opts.duration + 10);
  const spool = await bench.startSpool('throughput');
  const phase = async (op: () => Promise<void>) => {
    const meter = spool.cpuMeter();
    const result = await closedLoop({ concurrency, warmupMs: bench.warmupMs, durationMs: bench.durationMs, maxOps, op });
    return { result, cpu: meter.since() };
  };
  let direct: { result: LoadResult; cpu: Record<string, number | null> };
  let through: { result: LoadResult; cpu: Record<string, number | null> };
  let redisPerResponse: ReturnType<typeof perOperation>;
  let memoryBefore: Awaited<ReturnType<typeof spool.memory>>;
  let memoryAfter: Awaited<ReturnType<typeof spool.memory>>;
  try {
    const up = upstreamClient(bench, concurrency);
    const directBody = chatBody(`!words ${words}`);
    direct = await phase(async () => void expectOk(await up.send('POST', '/chat/completions', directBody)));
    up.close();
    const client = spoolClient(spool, concurrency);
    const spoolBody = responsesBody(`!words ${words}`);
    memoryBefore = await spool.memory();
    const countersBefore = await redisCounters(bench.redis.url);
    through = await phase(async () => void expectOk(await client.send('POST', '/responses', spoolBody), COMPLETED));
    redisPerResponse = perOperation(countersBefore, await redisCounters(bench.redis.url), Math.max(1, through.result.ok + through.result.errors));
    memoryAfter = await spool.memory();
    client.close();
  } finally {
    await spool.stop();
  }
  const d = direct.result;
  const s = through.result;
  const notes: string[] = [];
  if (s.errors > 0) notes.push(`${s.errors} errors through Spool: ${s.errorSamples.join('; ')}`);
  const fifth = Math.max(1, Math.floor(s.perSecond.length / 5));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const MB = 1024 * 1024;
  notes.push(
    `through Spool: ${round(avg(s.perSecond.slice(0, fifth)), 0)}/s in the first ${fifth} s, ${round(avg(s.perSecond.slice(-fifth)), 0)}/s in the last ${fifth} s; ` +
      `Spool JS heap after GC ${round(memoryBefore.heapUsed / MB, 1)} → ${round(memoryAfter.heapUsed / MB, 1)} MB, RSS ${round(memoryBefore.rss / MB, 0)} → ${round(memoryAfter.rss / MB, 0)} MB over ${s.completedInWindow} responses`,
  );
  notes.push(
    `Redis per response: ${redisPerResponse.commands} commands, ${redisPerResponse.bytesIn} bytes in, ${round(redisPerResponse.memoryBytes / 1024, 1)} KB kept (retention); ` +
      `${redisPerResponse.aofRewrites} append-only-file rewrite(s) during the phase`,
  );
  const zeroErrors = s.errors === 0 && d.errors === 0;
  const rateRow = row('throughput', 'responses/s', '/s', round(d.rate, 0), round(s.rate, 0), { text: '≥ 1,000/s, 0 errors', check: 'spool', min: 1000 });
  if (!zeroErrors) rateRow.holds = false;
  return {
    scenario: 'throughput',
    load: `closed loop, ${concurrency} concurrent clients, non-streaming, ${words}-word answer, ${bench.opts.duration} s measured per side (after ${bench.warmupMs / 1000} s warm-up)`,
    rows: [
      rateRow,
      row('throughput', 'p50 latency under load', 'ms', round(d.latency.p50), round(s.latency.p50), null),
      row('throughput', 'p99 latency under load', 'ms', round(d.latency.p99), round(s.latency.p99), { text: '≤ 50 ms p99', check: 'spool', max: 50 }),
    ],
    notes,
    details: { direct: d, spool: s, errors: { direct: d.errors, spool: s.errors }, cpuPercent: { direct: direct.cpu, spool: through.cpu }, spoolMemory: { before: memoryBefore, after: memoryAfter }, redisPerResponse },
  };
};
