import { topologyName, type Bench, type BenchSpool } from '../harness.ts';
import type { HttpClient } from '../lib/http.ts';
import { closedLoop, type LoadResult } from '../lib/load.ts';
import { perOperation, redisCounters } from '../lib/redis-stats.ts';
import { round } from '../lib/stats.ts';
import { chatBody, COMPLETED, expectOk, peerClient, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Row, type Scenario } from './types.ts';

interface Phase {
  result: LoadResult;
  cpu: Record<string, number | null>;
}

/**
 * Closed loop, `concurrency` clients, non-streaming, each side for the full duration: the upstream
 * directly, the peer gateway (Portkey) and Spool on Chat Completions, then Spool on Responses in
 * each topology of `--compare-workers` (a fresh Spool per topology). Reports responses/s and p99.
 */
export const throughput: Scenario = async (bench) => {
  const { concurrency, words } = bench.opts;
  // Bounded by count as well as time: at most 5,000 responses/s for the whole window.
  const maxOps = 5_000 * (bench.opts.duration + 10);
  const prompt = `!words ${words}`;
  const phase = async (meterOf: BenchSpool, client: HttpClient, path: string, body: Buffer, mustContain?: string): Promise<Phase> => {
    const meter = meterOf.cpuMeter();
    const result = await closedLoop({ concurrency, warmupMs: bench.warmupMs, durationMs: bench.durationMs, maxOps, op: async () => void expectOk(await client.send('POST', path, body), mustContain) });
    return { result, cpu: meter.since() };
  };
  const topologies = [...new Set([bench.opts.workers, ...bench.opts.compareWorkers])];
  const cpuPercent: Record<string, Record<string, number | null>> = {};
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  const MB = 1024 * 1024;

  let direct: Phase | null = null;
  let peer: Phase | null = null;
  let chat: Phase | null = null;
  const bySpool = new Map<number, Phase>();
  for (const workers of topologies) {
    const spool = await bench.startSpool('throughput', {}, workers);
    try {
      if (workers === bench.opts.workers) {
        // The baselines and Spool's chat once, with the default topology's processes idle beside them.
        const up = upstreamClient(bench, concurrency);
        direct = await phase(spool, up, '/chat/completions', chatBody(prompt));
        up.close();
        const pk = peerClient(bench, concurrency);
        peer = await phase(spool, pk, '/chat/completions', chatBody(prompt));
        pk.close();
        const sc = spoolClient(spool, concurrency);
        chat = await phase(spool, sc, '/chat/completions', chatBody(prompt), '"finish_reason":"stop"');
        sc.close();
        cpuPercent.direct = direct.cpu;
        cpuPercent.portkey = peer.cpu;
        cpuPercent[`spool chat (${spool.topology})`] = chat.cpu;
      }
      const client = spoolClient(spool, concurrency);
      const memoryBefore = await spool.memory();
      const countersBefore = await redisCounters(bench.redis.url);
      const s = await phase(spool, client, '/responses', responsesBody(prompt), COMPLETED);
      const redis = perOperation(countersBefore, await redisCounters(bench.redis.url), Math.max(1, s.result.ok + s.result.errors));
      const memoryAfter = await spool.memory();
      client.close();
      bySpool.set(workers, s);
      bench.completedRate.set(workers, s.result.rate);
      cpuPercent[`spool (${spool.topology})`] = s.cpu;
      const r = s.result;
      if (r.errors > 0) notes.push(`${spool.topology}: ${r.errors} errors through Spool: ${r.errorSamples.join('; ')}`);
      const fifth = Math.max(1, Math.floor(r.perSecond.length / 5));
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      notes.push(
        `${spool.topology}: ${round(avg(r.perSecond.slice(0, fifth)), 0)}/s in the first ${fifth} s, ${round(avg(r.perSecond.slice(-fifth)), 0)}/s in the last ${fifth} s; ` +
          `api process JS heap after GC ${round(memoryBefore.heapUsed / MB, 1)} → ${round(memoryAfter.heapUsed / MB, 1)} MB, RSS ${round(memoryBefore.rss / MB, 0)} → ${round(memoryAfter.rss / MB, 0)} MB; ` +
          `Redis per response ${redis.commands} commands, ${redis.bytesIn} bytes in, ${round(redis.memoryBytes / 1024, 1)} KB kept (retention), ${redis.aofRewrites} append-only-file rewrite(s)`,
      );
      details[spool.topology] = { spool: r, redisPerResponse: redis, spoolMemory: { before: memoryBefore, after: memoryAfter } };
    } finally {
      await spool.stop();
    }
  }
  const d = direct?.result ?? null;
  const p = peer?.result ?? null;
  const c = chat?.result ?? null;
  const rows: Row[] = [];
  const peerTarget = { text: '≥ 1.5× Portkey, 0 errors', peer: { on: 'spool' as const, minRatio: 1.5 } };
  const rateRow = (metric: string, s: LoadResult | null) => {
    const r = row('throughput', metric, '/s', d ? round(d.rate, 0) : null, s ? round(s.rate, 0) : null, peerTarget, p ? round(p.rate, 0) : null);
    if (s && s.errors > 0) r.holds = false;
    return r;
  };
  const p99Row = (metric: string, s: LoadResult | null) =>
    row('throughput', metric, 'ms', d ? round(d.latency.p99) : null, s ? round(s.latency.p99) : null, { text: '≤ 50 ms p99', check: 'spool', max: 50 }, p ? round(p.latency.p99) : null);
  const main = topologyName(bench.opts.workers);
  rows.push(rateRow(`responses/s, chat completions (${main})`, c));
  for (const workers of topologies) rows.push(rateRow(`responses/s, responses (${topologyName(workers)})`, bySpool.get(workers)?.result ?? null));
  const ms = bySpool.get(bench.opts.workers)?.result ?? null;
  rows.push(row('throughput', `p50 latency under load, responses (${main})`, 'ms', d ? round(d.latency.p50) : null, ms ? round(ms.latency.p50) : null, null, p ? round(p.latency.p50) : null));
  rows.push(p99Row(`p99 latency under load, chat completions (${main})`, c));
  for (const workers of topologies) rows.push(p99Row(`p99 latency under load, responses (${topologyName(workers)})`, bySpool.get(workers)?.result ?? null));
  if (p && p.errors > 0) notes.push(`${p.errors} errors through Portkey: ${p.errorSamples.join('; ')}`);
  if (c && c.errors > 0) notes.push(`${c.errors} errors through Spool's chat completions: ${c.errorSamples.join('; ')}`);
  return {
    scenario: 'throughput',
    load: `closed loop, ${concurrency} concurrent clients, non-streaming, ${words}-word answer, ${bench.opts.duration} s measured per side (after ${bench.warmupMs / 1000} s warm-up); Spool in ${topologies.map(topologyName).join(', ')}, a fresh Spool each`,
    rows,
    notes,
    details: { direct: d, peer: p, spoolChat: c, ...details, cpuPercent },
  };
};
