/**
 * Child process for the `floor` scenario: one piece of the stack Spool is built on, alone, doing
 * per response what it does inside Spool, so the runner can read this process's CPU (and Redis's)
 * per operation. `FLOOR_PART` picks the piece:
 *
 * - `http`: Spool's own HTTP layer (`createApp`: Express, auth, body parser, request schema, the
 *   route) over a stand-in service that answers at once with a finished 10-word Response. The
 *   runner sends the load.
 * - `queue`: one BullMQ turn job's life as Spool lives it (the catalog's options, the turn
 *   worker's options, concurrency 64): add, pick up, complete with an empty processor. `measure`
 *   runs it with 32 jobs in flight for FLOOR_MS.
 * - `sdk`: one non-streamed Chat Completions call through the `openai` SDK and the worker's
 *   `Upstreams` (its node:http fetch), against the bench's scripted upstream (another process).
 *
 * - `http-plain` and `sdk-plain`: the same work with nothing but `node:http` (a server answering
 *   the same JSON; a keep-alive client sending the same request and parsing the answer), the
 *   baselines those two are compared with.
 *
 * Each answers `measure` with how many operations it completed; for the servers the runner counts.
 */
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createApp, type ResponsesService } from '@spool/api';
import { createKeys, QUEUES, turnJob, WORKER_OPTIONS } from '@spool/contracts';
import { completeChat, Upstreams } from '@spool/llm-worker';
import { buildResponse, newId } from '@spool/protocol';
import { createLogger } from '@spool/runtime';
import { serveParent } from './lib/child.ts';

export interface FloorReady {
  url: string | null;
}

const part = process.env.FLOOR_PART;
const ms = Number(process.env.FLOOR_MS ?? 5000);
const IN_FLIGHT = 32;

/** Runs `op` with IN_FLIGHT at a time for `ms`; returns how many completed. */
async function loop(op: () => Promise<void>): Promise<number> {
  const end = Date.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (Date.now() < end) {
        await op();
        done++;
      }
    }),
  );
  return done;
}

let measure: () => Promise<number | null>;
let close: () => Promise<void>;
let url: string | null = null;

/** A finished 10-word Response, as Spool would answer. */
function finalResponse() {
  const final = buildResponse({ id: newId('resp'), request: { model: 'scripted' }, createdAt: 1, status: 'completed' });
  final.output = [
    { type: 'message', id: newId('msg'), role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'w1 w2 w3 w4 w5 w6 w7 w8 w9 w10', annotations: [], logprobs: [] }] },
  ];
  return final;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

if (part === 'http-plain') {
  const json = JSON.stringify(finalResponse());
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      JSON.parse(body);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(json);
    });
  });
  url = await listen(server);
  measure = async () => null;
  close = () => new Promise((r) => server.close(() => r()));
} else if (part === 'sdk-plain') {
  const target = new URL(`${process.env.UPSTREAM_BASE_URL as string}/chat/completions`);
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const body = Buffer.from(JSON.stringify({ model: 'scripted', messages: [{ role: 'user', content: '!words 10' }] }));
  const call = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: 'Bearer upstream-key' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          JSON.parse(text);
          resolve();
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  measure = () => loop(call);
  close = async () => agent.destroy();
} else if (part === 'http') {
  const final = finalResponse();
  const json = JSON.stringify(final);
  // Only what the POST /v1/responses route calls on a synchronous request.
  const service = {
    create: async () => ({ id: final.id, response: final, subscription: null }),
    waitForFinal: async () => ({ json, type: 'response.completed' }),
  } as unknown as ResponsesService;
  const app = createApp({
    responses: service,
    logger: createLogger('silent'),
    apiKeys: ['bench-key'],
    allowUnauthenticated: false,
    maxBodyBytes: 1 << 20,
    keepaliveMs: 15_000,
    ready: async () => true,
  });
  const server = createServer(app);
  url = await listen(server);
  measure = async () => null;
  close = () => new Promise((r) => server.close(() => r()));
} else if (part === 'queue') {
  const redisUrl = process.env.REDIS_URL as string;
  const keys = createKeys(`floor${Date.now()}:`);
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.turns, { connection: conn, prefix: keys.bullPrefix });
  const waiting = new Map<string, () => void>();
  const worker = new Worker(QUEUES.turns, async () => ({ kind: 'finished', status: 'completed' }), { connection: conn, prefix: keys.bullPrefix, concurrency: 64, ...WORKER_OPTIONS.turns });
  worker.on('completed', (job) => waiting.get(job.id as string)?.());
  await worker.waitUntilReady();
  let n = 0;
  measure = () =>
    loop(async () => {
      const data = { responseId: `resp_${n++}`, turn: 0 };
      const jobId = turnJob.jobId(data);
      const done = new Promise<void>((r) => waiting.set(jobId, r));
      await queue.add(turnJob.name, data, { ...turnJob.options, jobId });
      await done;
      waiting.delete(jobId);
    });
  close = async () => {
    await worker.close();
    await queue.close();
    conn.disconnect();
  };
} else if (part === 'sdk') {
  const upstreams = new Upstreams([], { baseUrl: process.env.UPSTREAM_BASE_URL as string, apiKey: 'upstream-key', maxTokensParam: 'max_completion_tokens' }, { maxRetries: 3, timeoutMs: 600_000 });
  const upstream = upstreams.resolve('scripted');
  if (!upstream) throw new Error('no upstream');
  const signal = new AbortController().signal;
  measure = () =>
    loop(async () => {
      await completeChat(upstream.client, { model: upstream.model, messages: [{ role: 'user', content: '!words 10' }], stream: false }, signal);
    });
  close = async () => upstreams.close();
} else {
  throw new Error(`floor-process: unknown FLOOR_PART '${part}'`);
}

serveParent({ measure: () => measure() }, () => close());
const ready: FloorReady = { url };
process.send?.({ ready });
