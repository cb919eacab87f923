import { Redis } from 'ioredis';
import { openBench } from './harness.ts';
import { parseOptions } from './options.ts';
import { closedLoop } from './lib/load.ts';
import { Samples } from './lib/stats.ts';
import { COMPLETED, expectOk, responsesBody, spoolClient } from './scenarios/requests.ts';
const opts = parseOptions(process.argv.slice(2), process.env);
const bench = await openBench(opts);
const spool = await bench.startSpool('throughput');
const c = spoolClient(spool, opts.concurrency);
const b = responsesBody('!words 10');
const r = await closedLoop({ concurrency: opts.concurrency, warmupMs: 2000, durationMs: 4000, maxOps: 1e6, op: async () => void expectOk(await c.send('POST', '/responses', b), COMPLETED) });
console.log('rate', r.rate.toFixed(0), 'p50', r.latency.p50.toFixed(1));
const redis = new Redis(bench.redis.url);
const ev = await redis.xrange('bench:bull:turns:events', '-', '+');
const t: Record<string, Record<string, number>> = {};
for (const [id, f] of ev) { const m: Record<string, string> = {}; for (let i = 0; i < f.length; i += 2) m[f[i]!] = f[i + 1]!; if (!m.jobId) continue; (t[m.jobId] ??= {})[m.event!] = Number(id.split('-')[0]); }
const wait = new Samples(), run = new Samples();
for (const j of Object.values(t)) { if (j.added && j.active) wait.add(j.active - j.added); if (j.active && j.completed) run.add(j.completed - j.active); }
console.log('queue wait (added→active) ms', JSON.stringify(wait.summary()));
console.log('processing (active→completed) ms', JSON.stringify(run.summary()));
redis.disconnect(); c.close(); await spool.stop(); await bench.close();
