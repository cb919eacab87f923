import { performance } from 'node:perf_hooks';
import { frames, type HttpClient } from '../lib/http.ts';
import { closedLoop, type LoadResult } from '../lib/load.ts';
import { Samples, round, type Summary } from '../lib/stats.ts';
import type { Bench } from '../harness.ts';
import { chatBody, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Scenario } from './types.ts';

interface StreamSide {
  client: HttpClient;
  path: string;
  body: Buffer;
  isDelta: (frame: string) => boolean;
  /** True once the stream showed it finished properly. */
  isFinal: (frame: string) => boolean;
}

interface Measured {
  ttft: Samples;
  deltasInWindow: number;
}

/** One stream; throws unless it ended properly with `expected` deltas. Records TTFT when measured. */
async function oneStream(side: StreamSide, expected: number, m: Measured, measured: boolean, window: { start: number; end: number }): Promise<void> {
  const t0 = performance.now();
  let first = -1;
  let deltas = 0;
  let final = false;
  const status = await side.client.stream('POST', side.path, side.body, (f) => {
    if (side.isDelta(f)) {
      const now = performance.now();
      if (first < 0) first = now;
      deltas++;
      if (now >= window.start && now <= window.end) m.deltasInWindow++;
    } else if (side.isFinal(f)) final = true;
  });
  if (status !== 200) throw new Error(`HTTP ${status}`);
  if (!final || deltas !== expected) throw new Error(`stream ended with ${deltas}/${expected} deltas, final=${final}`);
  if (measured) m.ttft.add(first - t0);
}

async function loadPhase(bench: Bench, side: StreamSide, streams: number, expected: number) {
  const m: Measured = { ttft: new Samples(), deltasInWindow: 0 };
  const start = performance.now() + bench.warmupMs;
  const window = { start, end: start + bench.durationMs };
  const result: LoadResult = await closedLoop({
    concurrency: streams,
    warmupMs: bench.warmupMs,
    durationMs: bench.durationMs,
    maxOps: 2_000 * (bench.opts.duration + 10),
    op: (measured) => oneStream(side, expected, m, measured, window),
  });
  return { result, ttft: m.ttft.summary(), deltasPerSecond: m.deltasInWindow / (result.windowMs / 1000) };
}

/** Single stream at a time, alternating sides: TTFT without queueing. */
async function singlePhase(bench: Bench, direct: StreamSide, spool: StreamSide, expected: number): Promise<{ direct: Summary; spool: Summary }> {
  const md: Measured = { ttft: new Samples(), deltasInWindow: 0 };
  const ms: Measured = { ttft: new Samples(), deltasInWindow: 0 };
  const never = { start: Infinity, end: -Infinity };
  const warmEnd = performance.now() + bench.warmupMs;
  const end = warmEnd + Math.min(bench.durationMs, 10_000);
  for (let i = 0; i < 2_000 && performance.now() < end; i++) {
    const measured = performance.now() >= warmEnd;
    await oneStream(direct, expected, md, measured, never);
    await oneStream(spool, expected, ms, measured, never);
  }
  return { direct: md.ttft.summary(), spool: ms.ttft.summary() };
}

/**
 * `streams` concurrent SSE streams of `deltas` text deltas each, closed loop: every stream that ends
 * is replaced by a new one. Direct: Chat Completions streams from the upstream; Spool: Responses
 * streams (`stream: true`). Counts text-delta events per second and time to the first delta.
 */
export const streaming: Scenario = async (bench) => {
  const { streams, deltas } = bench.opts;
  const prompt = `!words ${deltas}`;
  // The default llm_concurrency (64) would queue 136 of the 200 streams: run them all at once.
  const llmConcurrency = Math.max(64, streams);
  const spool = await bench.startSpool('streaming', { llm_concurrency: llmConcurrency });
  const up = upstreamClient(bench, streams);
  const client = spoolClient(spool, streams);
  const direct: StreamSide = {
    client: up,
    path: '/chat/completions',
    body: chatBody(prompt, { stream: true }),
    isDelta: frames.isChatDelta,
    isFinal: frames.isDone,
  };
  const through: StreamSide = {
    client,
    path: '/responses',
    body: responsesBody(prompt, { stream: true }),
    isDelta: frames.isResponsesDelta,
    isFinal: frames.isResponsesCompleted,
  };
  let single: { direct: Summary; spool: Summary };
  let d: Awaited<ReturnType<typeof loadPhase>>;
  let s: Awaited<ReturnType<typeof loadPhase>>;
  const cpu: Record<string, Record<string, number | null>> = {};
  try {
    single = await singlePhase(bench, direct, through, deltas);
    let meter = spool.cpuMeter();
    d = await loadPhase(bench, direct, streams, deltas);
    cpu.direct = meter.since();
    meter = spool.cpuMeter();
    s = await loadPhase(bench, through, streams, deltas);
    cpu.spool = meter.since();
  } finally {
    up.close();
    client.close();
    await spool.stop();
  }
  const notes: string[] = [];
  if (s.result.errors > 0) notes.push(`${s.result.errors} streams failed through Spool: ${s.result.errorSamples.join('; ')}`);
  return {
    scenario: 'streaming',
    load: `${streams} concurrent SSE streams × ${deltas} deltas, closed loop, ${bench.opts.duration} s measured per side; Spool llm_concurrency ${llmConcurrency}; single-stream TTFT: 1 client alternating, ≤ 10 s`,
    rows: [
      row('streaming', 'delta events/s', '/s', round(d.deltasPerSecond, 0), round(s.deltasPerSecond, 0), { text: '≥ 25,000 events/s', check: 'spool', min: 25_000 }),
      row('streaming', 'streams/s', '/s', round(d.result.rate, 1), round(s.result.rate, 1), null),
      row('streaming', `TTFT p50 (${streams} streams)`, 'ms', round(d.ttft.p50), round(s.ttft.p50), { text: '≤ 3 ms added p50', check: 'overhead', max: 3 }),
      row('streaming', 'TTFT p50 (1 stream)', 'ms', round(single.direct.p50, 3), round(single.spool.p50, 3), { text: '≤ 3 ms added p50', check: 'overhead', max: 3 }),
    ],
    notes,
    details: {
      single,
      direct: { ...d.result, ttft: d.ttft, deltasPerSecond: d.deltasPerSecond },
      spool: { ...s.result, ttft: s.ttft, deltasPerSecond: s.deltasPerSecond },
      cpuPercent: cpu,
    },
  };
};
