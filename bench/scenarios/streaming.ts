import { performance } from 'node:perf_hooks';
import { frames, type HttpClient } from '../lib/http.ts';
import { closedLoop, type LoadResult } from '../lib/load.ts';
import { Samples, round, type Summary } from '../lib/stats.ts';
import type { Bench } from '../harness.ts';
import { chatBody, peerClient, responsesBody, spoolClient, upstreamClient } from './requests.ts';
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

/** One stream at a time, rotating over the sides: TTFT without queueing. */
async function singlePhase(bench: Bench, sides: StreamSide[], expected: number): Promise<Summary[]> {
  const measured = sides.map((): Measured => ({ ttft: new Samples(), deltasInWindow: 0 }));
  const never = { start: Infinity, end: -Infinity };
  const warmEnd = performance.now() + bench.warmupMs;
  const end = warmEnd + Math.min(bench.durationMs, 10_000);
  for (let i = 0; i < 2_000 && performance.now() < end; i++) {
    const inWindow = performance.now() >= warmEnd;
    for (const [j, side] of sides.entries()) await oneStream(side, expected, measured[j] as Measured, inWindow, never);
  }
  return measured.map((m) => m.ttft.summary());
}

/**
 * `streams` concurrent SSE streams of `deltas` text deltas each, closed loop: every stream that ends
 * is replaced by a new one. Four sides: Chat Completions streams from the upstream directly,
 * through the peer gateway (Portkey) and through Spool, and Spool's Responses streams
 * (`stream: true`). Counts text-delta events per second and time to the first delta.
 */
export const streaming: Scenario = async (bench) => {
  const { streams, deltas } = bench.opts;
  const prompt = `!words ${deltas}`;
  // The default llm_concurrency (64) would queue 136 of the 200 streams: run them all at once.
  const llmConcurrency = Math.max(64, streams);
  const spool = await bench.startSpool('streaming', { llm_concurrency: llmConcurrency });
  const chatSide = (client: HttpClient): StreamSide => ({
    client,
    path: '/chat/completions',
    body: chatBody(prompt, { stream: true }),
    isDelta: frames.isChatDelta,
    isFinal: frames.isDone,
  });
  const spoolHttp = spoolClient(spool, streams);
  const sides: Record<'direct' | 'peer' | 'chat' | 'responses', StreamSide> = {
    direct: chatSide(upstreamClient(bench, streams)),
    peer: chatSide(peerClient(bench, streams)),
    chat: chatSide(spoolHttp),
    responses: {
      client: spoolHttp,
      path: '/responses',
      body: responsesBody(prompt, { stream: true }),
      isDelta: frames.isResponsesDelta,
      isFinal: frames.isResponsesCompleted,
    },
  };
  const names = Object.keys(sides) as Array<keyof typeof sides>;
  const single: Partial<Record<keyof typeof sides, Summary>> = {};
  const load: Partial<Record<keyof typeof sides, Awaited<ReturnType<typeof loadPhase>>>> = {};
  const cpu: Record<string, Record<string, number | null>> = {};
  try {
    const ttfts = await singlePhase(
      bench,
      names.map((n) => sides[n]),
      deltas,
    );
    for (const [i, n] of names.entries()) if (ttfts[i]) single[n] = ttfts[i];
    for (const n of names) {
      const meter = spool.cpuMeter();
      load[n] = await loadPhase(bench, sides[n], streams, deltas);
      cpu[n] = meter.since();
    }
  } finally {
    sides.direct.client.close();
    sides.peer.client.close();
    spoolHttp.close();
    await spool.stop();
  }
  const { direct: d, peer: p, chat: c, responses: r } = load as Required<typeof load>;
  const one = single as Required<typeof single>;
  const notes: string[] = [];
  for (const n of ['peer', 'chat', 'responses'] as const) {
    const res = load[n]?.result;
    if (res && res.errors > 0) notes.push(`${res.errors} streams failed (${n}): ${res.errorSamples.join('; ')}`);
  }
  notes.push(
    `Single-stream TTFT p50: direct ${round(one.direct.p50, 3)} ms, Portkey ${round(one.peer.p50, 3)} ms (it waits ~25 ms before each stream's first chunk), Spool chat ${round(one.chat.p50, 3)} ms, Spool responses ${round(one.responses.p50, 3)} ms (${spool.topology}).`,
  );
  const atLeastPeer = { text: '≥ Portkey', peer: { on: 'spool' as const, minRatio: 1 } };
  const ttftTarget = { text: '≤ 3 ms added p50 (vs direct)', check: 'overhead' as const, max: 3 };
  return {
    scenario: 'streaming',
    load: `${streams} concurrent SSE streams × ${deltas} deltas, closed loop, ${bench.opts.duration} s measured per side; Spool (${spool.topology}) llm_concurrency ${llmConcurrency}; single-stream TTFT: 1 client rotating over the four sides, ≤ 10 s`,
    rows: [
      row('streaming', 'delta events/s, chat completions', '/s', round(d.deltasPerSecond, 0), round(c.deltasPerSecond, 0), atLeastPeer, round(p.deltasPerSecond, 0)),
      row('streaming', 'delta events/s, responses', '/s', round(d.deltasPerSecond, 0), round(r.deltasPerSecond, 0), atLeastPeer, round(p.deltasPerSecond, 0)),
      row('streaming', 'streams/s, chat completions', '/s', round(d.result.rate, 1), round(c.result.rate, 1), null, round(p.result.rate, 1)),
      row('streaming', 'streams/s, responses', '/s', round(d.result.rate, 1), round(r.result.rate, 1), null, round(p.result.rate, 1)),
      row('streaming', `TTFT p50 (${streams} streams), responses`, 'ms', round(d.ttft.p50), round(r.ttft.p50), null, round(p.ttft.p50)),
      row('streaming', 'TTFT p50 (1 stream), chat completions', 'ms', round(one.direct.p50, 3), round(one.chat.p50, 3), ttftTarget, round(one.peer.p50, 3)),
      row('streaming', 'TTFT p50 (1 stream), responses', 'ms', round(one.direct.p50, 3), round(one.responses.p50, 3), ttftTarget, round(one.peer.p50, 3)),
    ],
    notes,
    details: {
      single,
      ...Object.fromEntries(names.map((n) => [n, { ...load[n]?.result, ttft: load[n]?.ttft, deltasPerSecond: load[n]?.deltasPerSecond }])),
      cpuPercent: cpu,
    },
  };
};
