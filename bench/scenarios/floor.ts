import { resolve } from 'node:path';
import type { FloorReady } from '../floor-process.ts';
import { BENCH_DIR, RESULTS_DIR, SPOOL_API_KEY } from '../harness.ts';
import { forkTs } from '../lib/child.ts';
import { endpoint, HttpClient } from '../lib/http.ts';
import { closedLoop } from '../lib/load.ts';
import { CpuMeter, disturbance } from '../lib/proc.ts';
import { round } from '../lib/stats.ts';
import { expectOk, responsesBody } from './requests.ts';
import { row, type Row, type Scenario } from './types.ts';

const CONCURRENCY = 32;

interface PartCost {
  /** CPU µs per operation of the part's own process, and of Redis. */
  us: number;
  redisUs: number;
  ops: number;
  othersPercent: number | null;
}

/**
 * What the libraries Spool is built on cost per response on this machine, each alone (see
 * floor-process.ts): the HTTP layer, one BullMQ job's life, one SDK call. Their sum is the CPU a
 * response costs before any of Spool's own work (the log, the records, the translation): the floor
 * under the throughput figure, measured in the same run. Each part beside its plain `node:http`
 * equivalent where there is one.
 */
export const floor: Scenario = async (bench) => {
  const ms = bench.durationMs;
  const measure = async (part: string): Promise<PartCost> => {
    const child = await forkTs<FloorReady>(resolve(BENCH_DIR, 'floor-process.ts'), {
      env: { NODE_ENV: 'production', FLOOR_PART: part, FLOOR_MS: String(ms), REDIS_URL: bench.redis.url, UPSTREAM_BASE_URL: bench.upstreamUrl },
      logFile: resolve(RESULTS_DIR, `logs/floor-${part}.log`),
    });
    try {
      const pids = { part: child.pid, redis: bench.redis.pid as number };
      let ops: number;
      let cpu: Record<string, number | null>;
      if (child.ready.url) {
        // A server: the runner sends the load, closed loop, as in the throughput scenario.
        const client = new HttpClient(endpoint(`${child.ready.url}/v1`, SPOOL_API_KEY), { connections: CONCURRENCY });
        const body = responsesBody('!words 10');
        await closedLoop({ concurrency: CONCURRENCY, warmupMs: 0, durationMs: bench.warmupMs, maxOps: Infinity, op: async () => void expectOk(await client.send('POST', '/responses', body)) });
        const meter = new CpuMeter(pids);
        const r = await closedLoop({ concurrency: CONCURRENCY, warmupMs: 0, durationMs: ms, maxOps: Infinity, op: async () => void expectOk(await client.send('POST', '/responses', body)) });
        cpu = meter.since();
        ops = r.ok;
        client.close();
      } else {
        await child.request<number>('measure', ms + 30_000); // warm-up run: JIT and connections
        const meter = new CpuMeter(pids);
        ops = await child.request<number>('measure', ms + 30_000);
        cpu = meter.since();
      }
      const per = (percent: number | null | undefined) => (percent == null || ops === 0 ? NaN : round(((percent / 100) * (ms / 1000) * 1e6) / ops, 0));
      return { us: per(cpu.part), redisUs: per(cpu.redis), ops, othersPercent: disturbance(cpu) };
    } finally {
      await child.stop();
    }
  };

  const parts = {
    httpPlain: await measure('http-plain'),
    http: await measure('http'),
    queue: await measure('queue'),
    sdkPlain: await measure('sdk-plain'),
    sdk: await measure('sdk'),
  };
  const sum = parts.http.us + parts.queue.us + parts.queue.redisUs + parts.sdk.us;
  const rows: Row[] = [
    row('floor', 'HTTP layer (Express, auth, body, schema), CPU per request', 'µs', parts.httpPlain.us, parts.http.us, null),
    row('floor', 'BullMQ turn job (add, pick up, complete), CPU per job', 'µs', null, parts.queue.us, null),
    row('floor', 'BullMQ turn job, Redis CPU per job', 'µs', null, parts.queue.redisUs, null),
    row('floor', 'openai SDK call, non-streamed, client CPU per call', 'µs', parts.sdkPlain.us, parts.sdk.us, null),
    row('floor', 'sum: CPU per response before any Spool code', 'µs', null, sum, null),
  ];
  const disturbed = Object.entries(parts).filter(([, p]) => (p.othersPercent ?? 0) >= 25);
  return {
    scenario: 'floor',
    load: `each part alone in its own process, ${CONCURRENCY} operations in flight, ${bench.opts.duration} s measured (after a warm-up); direct = the same work over plain node:http`,
    rows,
    notes: [
      `Operations measured: ${Object.entries(parts)
        .map(([k, p]) => `${k} ${p.ops}`)
        .join(', ')}.`,
      `The throughput scenario's CPU per response (Spool + Redis) compares with the ${round(sum / 1000, 2)} ms of this floor; the difference is Spool's own work.`,
      ...(disturbed.length > 0 ? [`Disturbed: other processes and steal took ≥ 25 % of a core while measuring ${disturbed.map(([k]) => k).join(', ')}.`] : []),
    ],
    details: { parts },
  };
};
