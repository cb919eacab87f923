/**
 * `npx tsx bench/micro/upstream-client.ts`: CPU per streamed Chat Completions call, made four ways:
 * the `openai` SDK with its default fetch (undici, web streams); the SDK with the worker's
 * `node:http` fetch (services/llm-worker/src/node-fetch.ts, what the LLM worker uses); and with no
 * SDK at all (`node:http` keep-alive agent, split on blank lines, one JSON.parse per chunk), as the
 * floor. Same scripted upstream, same 10-word answer, 16 calls in flight (or the first argument).
 *
 * The upstream runs in this process, so both figures include serving it; the difference is what
 * the client costs. Evidence for the proposed upstream-client change (see bench/findings.md).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { startScriptedUpstream } from '@spool/testkit';
import { createNodeFetch } from '../../services/llm-worker/src/node-fetch.ts';
import { streamChat } from '../../services/llm-worker/src/upstream.ts';

const CALLS = 6_000;
// `npx tsx bench/micro/upstream-client.ts 1` measures one call at a time (latency rather than load).
const IN_FLIGHT = Number(process.argv[2] ?? 16);
const ROUNDS = 3;

const upstream = await startScriptedUpstream({ host: '127.0.0.1' });
const sdk = new OpenAI({ baseURL: upstream.url, apiKey: 'bench', maxRetries: 0 });
const nodeFetch = createNodeFetch();
const sdkNodeFetch = new OpenAI({ baseURL: upstream.url, apiKey: 'bench', maxRetries: 0, fetch: nodeFetch.fetch });
const params = {
  model: 'scripted',
  messages: [{ role: 'user' as const, content: '!words 10' }],
  stream: true as const,
  stream_options: { include_usage: true },
};
const body = Buffer.from(JSON.stringify(params));
const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
const target = new URL(upstream.url);

async function viaSdk(client = sdk): Promise<number> {
  let chunks = 0;
  const stream = await client.chat.completions.create(params);
  for await (const chunk of stream) chunks += chunk.choices.length;
  return chunks;
}

/** What the LLM worker does: the SDK makes the call over the node:http fetch, upstream-body.ts reads it. */
async function viaWorker(): Promise<number> {
  let chunks = 0;
  await streamChat(sdkNodeFetch, params, new AbortController().signal, (batch) => {
    for (const chunk of batch) chunks += chunk.choices.length;
  });
  return chunks;
}

function viaHttp(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}/chat/completions`,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: 'Bearer bench' },
      },
      (res) => {
        let buffer = '';
        let chunks = 0;
        res.setEncoding('utf8');
        res.on('data', (data: string) => {
          buffer += data;
          for (let cut = buffer.indexOf('\n\n'); cut !== -1; cut = buffer.indexOf('\n\n')) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (frame.startsWith('data: {')) chunks += (JSON.parse(frame.slice(6)) as { choices: unknown[] }).choices.length;
          }
        });
        res.once('end', () => resolve(chunks));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

async function measure(name: string, call: () => Promise<number>): Promise<void> {
  for (let i = 0; i < 300; i++) await call(); // warm the JIT and the connections
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, call));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  console.log(`${name.padEnd(30)} ${((cpu.user + cpu.system) / CALLS).toFixed(0).padStart(5)} µs CPU/call  ${((wall / CALLS) * 1000).toFixed(0).padStart(5)} µs wall/call`);
}

for (let round = 1; round <= ROUNDS; round++) {
  console.log(`round ${round}`);
  await measure('openai SDK', () => viaSdk());
  await measure('SDK + node:http fetch', () => viaSdk(sdkNodeFetch));
  await measure('SDK call, lean body (worker)', viaWorker);
  await measure('node:http + SSE split', viaHttp);
}
agent.destroy();
nodeFetch.close();
await upstream.close();
