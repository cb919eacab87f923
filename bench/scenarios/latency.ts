import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { HttpClient } from '../lib/http.ts';
import { perOperation, redisCounters } from '../lib/redis-stats.ts';
import { Samples, round } from '../lib/stats.ts';
import type { Bench, BenchSpool } from '../harness.ts';
import { chatBody, COMPLETED, expectOk, peerClient, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Scenario } from './types.ts';

const MAX_ROUNDS = 20_000;
/** Responses of the Redis-count phase: sequential, nothing else talking to Redis. */
const COUNT_RESPONSES = 300;

interface Side {
  name: string;
  client: HttpClient;
  path: string;
  body: Buffer;
  mustContain?: string;
  samples: Samples;
}

/**
 * Redis commands and bytes per response of one kind, over `n` sequential requests: only Spool
 * talks to this Redis, so its counters over the phase are Spool's cost (idle workers' blocking
 * polls included, as they are in production).
 */
async function redisPerResponse(bench: Bench, client: HttpClient, path: string, body: Buffer, mustContain: string, n: number) {
  const run = async (count: number) => {
    let done = 0;
    const end = performance.now() + Math.max(2_000, bench.durationMs / 3);
    while (done < count && performance.now() < end) {
      expectOk(await client.send('POST', path, body), mustContain);
      done++;
    }
    // The last response's settle and BullMQ's completion land just after its answer.
    await sleep(200);
    return Math.max(1, done);
  };
  const before = await redisCounters(bench.redis.url);
  const ops = await run(n);
  const counted = perOperation(before, await redisCounters(bench.redis.url), ops);
  // Then MONITOR, apart (its stream would count in the bytes above), tells the commands clients
  // sent (round trips' worth of work) from those scripts ran (source `lua`); INFO counts both.
  const base = new Redis(bench.redis.url, { maxRetriesPerRequest: 1 });
  const monitor = await base.monitor();
  let sent = 0;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = String(args[0] ?? '').toLowerCase();
    if (source !== 'lua' && cmd !== 'info' && cmd !== 'client' && cmd !== 'monitor') sent++;
  });
  let monitored: number;
  try {
    monitored = await run(Math.ceil(n / 3));
  } finally {
    monitor.disconnect();
    base.disconnect();
  }
  return { ...counted, sentByClients: Math.round((sent / monitored) * 100) / 100 };
}

function topCalls(r: ReturnType<typeof perOperation>): string {
  return Object.entries(r.calls)
    .slice(0, 10)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
}

/**
 * One client, one request at a time, rotating over four sides so all see the same machine state:
 * the upstream directly, the peer gateway (Portkey) on Chat Completions, Spool on Chat Completions,
 * Spool on Responses. Added latency = percentile − direct's percentile. Then a short sequential
 * phase counts Redis commands per plain response.
 */
export const latency: Scenario = async (bench) => {
  const { words } = bench.opts;
  const spool: BenchSpool = await bench.startSpool('latency');
  const prompt = `!words ${words}`;
  const spoolHttp = spoolClient(spool, 1);
  const sides: Side[] = [
    { name: 'direct', client: upstreamClient(bench, 1), path: '/chat/completions', body: chatBody(prompt), samples: new Samples() },
    { name: 'peer', client: peerClient(bench, 1), path: '/chat/completions', body: chatBody(prompt), samples: new Samples() },
    { name: 'spool chat', client: spoolHttp, path: '/chat/completions', body: chatBody(prompt), mustContain: '"finish_reason":"stop"', samples: new Samples() },
    { name: 'spool responses', client: spoolHttp, path: '/responses', body: responsesBody(prompt), mustContain: COMPLETED, samples: new Samples() },
  ];
  let errors = 0;
  const errorSamples = new Set<string>();
  let cpu: Record<string, number | null> = {};
  let perResponse: Awaited<ReturnType<typeof redisPerResponse>> | null = null;
  let perChat: Awaited<ReturnType<typeof redisPerResponse>> | null = null;
  try {
    const warmEnd = performance.now() + bench.warmupMs;
    let meter = spool.cpuMeter();
    let end = Infinity;
    for (let rounds = 0; rounds < MAX_ROUNDS;) {
      const now = performance.now();
      const measured = now >= warmEnd;
      if (measured && end === Infinity) {
        end = now + bench.durationMs;
        meter = spool.cpuMeter();
      }
      if (now >= end) break;
      if (measured) rounds++;
      for (const side of sides) {
        try {
          const t = performance.now();
          expectOk(await side.client.send('POST', side.path, side.body), side.mustContain);
          if (measured) side.samples.add(performance.now() - t);
        } catch (err) {
          if (measured) {
            errors++;
            errorSamples.add(`${side.name}: ${(err as Error).message}`);
          }
        }
      }
    }
    cpu = meter.since();
    perResponse = await redisPerResponse(bench, spoolHttp, '/responses', responsesBody(prompt), COMPLETED, COUNT_RESPONSES);
    perChat = await redisPerResponse(bench, spoolHttp, '/chat/completions', chatBody(prompt), '"finish_reason":"stop"', COUNT_RESPONSES);
  } finally {
    for (const side of sides) side.client.close();
    await spool.stop();
  }
  const [d, p, c, r] = sides.map((side) => side.samples.summary()) as [ReturnType<Samples['summary']>, ReturnType<Samples['summary']>, ReturnType<Samples['summary']>, ReturnType<Samples['summary']>];
  const notes: string[] = [];
  if (errors > 0) notes.push(`${errors} errors: ${[...errorSamples].slice(0, 4).join('; ')}`);
  if (perResponse)
    notes.push(
      `Redis work per plain response (${COUNT_RESPONSES} sequential \`/v1/responses\`): ${perResponse.commands} commands executed (${topCalls(perResponse)}), of which ${perResponse.sentByClients} sent by Spool's processes and the rest run inside scripts (BullMQ's and Spool's), ${perResponse.bytesIn} bytes in, ${perResponse.bytesOut} bytes out`,
    );
  if (perChat) notes.push(`Redis work per Chat Completions request through Spool: ${perChat.commands} commands executed, ${perChat.sentByClients} sent (${topCalls(perChat)})`);
  notes.push(`Added p50 over direct: Portkey ${round(p.p50 - d.p50, 3)} ms, Spool chat ${round(c.p50 - d.p50, 3)} ms, Spool responses ${round(r.p50 - d.p50, 3)} ms (${spool.topology}).`);
  // The target: at most the peer's added latency, and at most 2 ms where direct is under 1 ms.
  const p50Target =
    d.p50 < 1
      ? { text: "≤ Portkey's added p50 and ≤ 2 ms added", check: 'overhead' as const, max: 2, peer: { on: 'overhead' as const, maxRatio: 1 } }
      : { text: "≤ Portkey's added p50", peer: { on: 'overhead' as const, maxRatio: 1 } };
  return {
    scenario: 'latency',
    load: `1 client, sequential, rotating direct / Portkey chat / Spool chat / Spool responses, ${bench.opts.duration} s measured (≤ ${MAX_ROUNDS} rounds); non-streaming, ${words}-word answer; Spool: ${spool.topology}`,
    rows: [
      row('latency', 'p50 latency, chat completions', 'ms', round(d.p50, 3), round(c.p50, 3), { text: "≤ Portkey's added p50", peer: { on: 'overhead', maxRatio: 1 } }, round(p.p50, 3)),
      row('latency', 'p50 latency, responses', 'ms', round(d.p50, 3), round(r.p50, 3), p50Target, round(p.p50, 3)),
      row('latency', 'p99 latency, chat completions', 'ms', round(d.p99, 3), round(c.p99, 3), null, round(p.p99, 3)),
      row('latency', 'p99 latency, responses', 'ms', round(d.p99, 3), round(r.p99, 3), { text: '≤ 10 ms added p99', check: 'overhead', max: 10 }, round(p.p99, 3)),
      row('latency', "Redis commands per plain response, executed (scripts' included)", '', null, perResponse?.commands ?? null, { text: '≤ 30', check: 'spool', max: 30 }),
      row('latency', "Redis commands per plain response, sent by Spool (round trips' worth)", '', null, perResponse?.sentByClients ?? null, null),
    ],
    notes,
    details: { direct: d, peer: p, spoolChat: c, spool: r, errors, cpuPercent: cpu, redisPerResponse: perResponse, redisPerChat: perChat, topology: spool.topology },
  };
};
