import { Redis } from 'ioredis';
import { openBench } from './harness.ts';
import { parseOptions } from './options.ts';
import { responsesBody, spoolClient } from './scenarios/requests.ts';
const bench = await openBench(parseOptions([], {}));
const spool = await bench.startSpool('latency');
const c = spoolClient(spool, 1);
const b = responsesBody('!words 10', { stream: true });
const firsts: number[] = [];
for (let i = 0; i < 1500; i++) await c.send('POST', '/responses', b);
const mon = await new Redis(bench.redis.url).monitor();
const lines: string[] = [];
mon.on('monitor', (time: string, args: string[]) => lines.push(`${time} ${args.slice(0, 3).map((a) => a.length > 40 ? a.slice(0, 40) + '…' : a).join(' ')}`));
await new Promise((r) => setTimeout(r, 200));
const t0 = Date.now() / 1000;
const marks: number[] = [];
for (let i = 0; i < 3; i++) { marks.push(Date.now()); let f = 0; await c.stream('POST', '/responses', b, (fr) => { if (!f && fr.startsWith('event: response.output_text.delta')) { f = Date.now(); marks.push(f); } }); marks.push(Date.now()); await new Promise((r) => setTimeout(r, 50)); }
await new Promise((r) => setTimeout(r, 200));
mon.disconnect();
console.log('client marks', marks.map((m) => (m / 1000 - t0).toFixed(4)).join(' '));
let prev = 0;
for (const l of lines) { const t = Number(l.split(' ')[0]); console.log(((t - t0) * 1000).toFixed(3).padStart(9), ((t - prev) * 1000).toFixed(3).padStart(8), l.split(' ').slice(1).join(' ')); prev = t; }
c.close(); await spool.stop(); await bench.close();
