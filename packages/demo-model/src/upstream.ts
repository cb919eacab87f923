import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { planReply, type PlannedFailure, type ReplyPlan } from './plan.ts';
import { chatBodyOfResponses, responsesEvents } from './responses.ts';

/** A Chat Completions request body exactly as received (parsed JSON). */
export interface ChatRequestRecord {
  model?: string;
  messages?: Array<Record<string, unknown>>;
  stream?: boolean;
  tools?: unknown[];
  tool_choice?: unknown;
  [key: string]: unknown;
}

/** A `POST /v1/responses` call as received, and how its stream ended. */
export interface ResponsesCallRecord {
  body: Record<string, unknown>;
  /** `client_closed`: the caller went away before the stream ended (a cancel reached the upstream). */
  outcome: 'streaming' | 'finished' | 'client_closed';
}

export interface ScriptedUpstream {
  /** Base URL ending in `/v1`, as the `openai` client's `baseURL` expects. */
  url: string;
  /** Bodies of the last (at most 1000) chat completion requests, oldest first. */
  requests: ChatRequestRecord[];
  /** The last (at most 1000) Responses API calls, oldest first. */
  responses: ResponsesCallRecord[];
  close(): Promise<void>;
}

export interface ScriptedUpstreamOptions {
  port?: number;
  host?: string;
}

/** Bounded so long benchmarks do not grow memory; the array object itself is never replaced. */
const MAX_RECORDED = 1000;
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MODEL_IDS = ['scripted', 'gpt-4o-mini'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function startScriptedUpstream(opts: ScriptedUpstreamOptions = {}): Promise<ScriptedUpstream> {
  const requests: ChatRequestRecord[] = [];
  const responses: ResponsesCallRecord[] = [];
  let responsesSeq = 0;
  /** `!fail STATUS TIMES KEY` counters: failures already served per key. */
  const failuresServed = new Map<string, number>();
  let completionSeq = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // The only failures here are writes to a socket the client already dropped.
      if (!res.headersSent) sendError(res, 500, 'server_error', 'server_error', 'scripted upstream failed');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const body = await readRequest(req, res, 'messages', (b) => Array.isArray(b.messages));
      if (!body) return;
      remember(requests, body as ChatRequestRecord);
      await answer(res, planReply(body), `chatcmpl-${++completionSeq}`);
      return;
    }
    if (req.method === 'POST' && path === '/v1/responses') {
      const body = await readRequest(req, res, 'input', (b) => b.input !== undefined);
      if (!body) return;
      const record: ResponsesCallRecord = { body, outcome: 'streaming' };
      remember(responses, record);
      await answerResponses(res, body, record);
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      req.resume();
      sendJson(res, 200, { object: 'list', data: MODEL_IDS.map(modelObject) });
      return;
    }
    const model = /^\/v1\/models\/([^/]+)$/.exec(path)?.[1];
    if (req.method === 'GET' && model !== undefined) {
      req.resume();
      sendJson(res, 200, modelObject(decodeURIComponent(model)));
      return;
    }
    req.resume();
    sendError(res, 404, 'invalid_request_error', 'unknown_url', `Unknown request URL: ${req.method} ${path}`);
  }

  function shouldFail(fail: PlannedFailure | null): boolean {
    if (!fail) return false;
    if (fail.times === null || fail.key === null) return true;
    const served = failuresServed.get(fail.key) ?? 0;
    if (served >= fail.times) return false;
    failuresServed.set(fail.key, served + 1);
    return true;
  }

  async function answer(res: ServerResponse, plan: ReplyPlan, id: string): Promise<void> {
    const created = Math.floor(Date.now() / 1000);
    // Aborted when the client goes away or close() tears the socket down, so delays end early.
    const gone = new AbortController();
    res.once('close', () => gone.abort());

    if (shouldFail(plan.fail) && plan.fail) {
      await pause(plan.delayMs, gone.signal);
      if (!res.destroyed) sendError(res, plan.fail.status, plan.fail.type, plan.fail.code, plan.fail.message, plan.retryAfter);
      return;
    }
    if (plan.stream) await streamReply(res, plan, id, created, gone.signal);
    else await jsonReply(res, plan, id, created, gone.signal);
  }

  /**
   * A Responses call: the plan of the Chat body it stands for, streamed as Responses events (the
   * only form Spool asks for), or returned whole as the final Response. Failures, delays, cuts
   * and stalls follow the same directives as on the Chat side.
   */
  async function answerResponses(res: ServerResponse, body: Record<string, unknown>, record: ResponsesCallRecord): Promise<void> {
    const plan = planReply(chatBodyOfResponses(body));
    const seq = ++responsesSeq;
    let n = 0;
    const events = responsesEvents(plan, body, { response: `resp_up${seq}`, next: (prefix) => `${prefix}_up${seq}_${++n}` });
    const gone = new AbortController();
    res.once('close', () => {
      if (record.outcome === 'streaming') record.outcome = 'client_closed';
      gone.abort();
    });
    if (shouldFail(plan.fail) && plan.fail) {
      await pause(plan.delayMs, gone.signal);
      if (!res.destroyed) sendError(res, plan.fail.status, plan.fail.type, plan.fail.code, plan.fail.message, plan.retryAfter);
      record.outcome = 'finished';
      return;
    }
    if (body.stream !== true) {
      await pause(plan.delayMs, gone.signal);
      const last = events.at(-1)?.event;
      record.outcome = 'finished';
      if (!res.destroyed) sendJson(res, 200, isObject(last?.response) ? last.response : {});
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    let bodyEvents = 0;
    for (const [sequence, { event, body: isBody }] of events.entries()) {
      if (isBody) bodyEvents++;
      await pause(plan.delayMs, gone.signal);
      if (res.destroyed) return;
      const frame = `event: ${String(event.type)}\ndata: ${JSON.stringify({ ...event, sequence_number: sequence })}\n\n`;
      const cut = isBody && plan.cutAfter === bodyEvents;
      const stall = isBody && plan.stallAfter === bodyEvents;
      if (cut || stall) await new Promise<void>((resolve) => res.write(frame, () => resolve()));
      else if (!res.write(frame)) await drained(res);
      if (cut) return void res.socket?.destroy();
      if (stall) {
        if (!gone.signal.aborted) await new Promise((resolve) => gone.signal.addEventListener('abort', resolve, { once: true }));
        return;
      }
    }
    // `!cutafter N` with fewer than N body events still never finishes, as on the Chat side.
    if (plan.cutAfter !== null) return void res.socket?.destroy();
    record.outcome = 'finished';
    res.end();
  }

  async function jsonReply(res: ServerResponse, plan: ReplyPlan, id: string, created: number, gone: AbortSignal): Promise<void> {
    await pause(plan.delayMs, gone);
    if (res.destroyed) return;
    if (plan.cutAfter !== null) {
      // A non-streamed answer has no "middle": dying mid-answer means the connection drops.
      res.socket?.destroy();
      return;
    }
    const message: Record<string, unknown> = {
      role: 'assistant',
      content: plan.kind === 'tool_calls' ? null : plan.text,
      refusal: null,
      annotations: [],
      ...(plan.reasoningChunks.length > 0 ? reasoningDelta(plan, plan.reasoningChunks.join('')) : {}),
    };
    if (plan.kind === 'tool_calls') {
      message.tool_calls = plan.toolCalls.map((c) => ({
        id: callId(),
        type: 'function',
        function: { name: c.name, arguments: c.arguments },
      }));
    }
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: plan.model,
      choices: [
        {
          index: 0,
          message,
          logprobs: plan.logprobs && plan.kind === 'text' ? { content: plan.contentChunks.map((p) => tokenLogprobs(plan, p)), refusal: null } : null,
          finish_reason: plan.finishReason,
        },
      ],
      usage: plan.usage,
      system_fingerprint: 'fp_scripted',
    });
  }

  async function streamReply(res: ServerResponse, plan: ReplyPlan, id: string, created: number, gone: AbortSignal): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();

    // Serialised once per response: only the delta and finish_reason differ between chunks.
    const head = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(plan.model)},"system_fingerprint":"fp_scripted","choices":[{"index":0,"delta":`;
    // With include_usage, OpenAI puts `"usage":null` on every chunk but the last.
    const tail = plan.includeUsage ? '}],"usage":null}\n\n' : '}]}\n\n';
    const chunk = (delta: unknown, finish: string | null = null, logprobs: unknown = null) =>
      `${head}${JSON.stringify(delta)},"logprobs":${JSON.stringify(logprobs)},"finish_reason":${finish === null ? 'null' : JSON.stringify(finish)}${tail}`;

    const send = async (data: string, flush = false): Promise<boolean> => {
      await pause(plan.delayMs, gone);
      if (res.destroyed) return false;
      // Before a cut the write callback is awaited, so the chunk reaches the client before the
      // socket is destroyed (destroy() would drop data still buffered on our side).
      if (flush) await new Promise<void>((resolve) => res.write(data, () => resolve()));
      else if (!res.write(data)) await drained(res);
      return !res.destroyed;
    };
    // Dropping the connection with no finish chunk and no [DONE] is what an upstream crash looks like.
    const cut = (): false => {
      res.socket?.destroy();
      return false;
    };
    // A stall sends nothing more and holds the connection until the client gives up on it.
    const stall = async (): Promise<false> => {
      if (!gone.aborted) await new Promise((resolve) => gone.addEventListener('abort', resolve, { once: true }));
      return false;
    };
    const cutAt = plan.cutAfter;
    const stallAt = plan.stallAfter;
    let bodyChunks = 0;
    /** Sends a content/argument chunk; false once the stream is over (client gone, cut or stalled). */
    const sendBody = async (data: string): Promise<boolean> => {
      const due = cutAt === ++bodyChunks;
      const stalls = stallAt === bodyChunks;
      if (!(await send(data, due || stalls))) return false;
      if (stalls) return stall();
      return due ? cut() : true;
    };

    const opening = plan.kind === 'tool_calls' ? { role: 'assistant', content: null, refusal: null } : { role: 'assistant', content: '', refusal: null };
    if (!(await send(chunk(opening), cutAt === 0 || stallAt === 0))) return;
    if (cutAt === 0) return void cut();
    if (stallAt === 0) return void (await stall());
    for (const piece of plan.reasoningChunks) {
      if (!(await send(chunk(reasoningDelta(plan, piece))))) return;
    }
    if (plan.kind === 'tool_calls') {
      for (const [index, call] of plan.toolCalls.entries()) {
        const first = { tool_calls: [{ index, id: callId(), type: 'function', function: { name: call.name, arguments: '' } }] };
        if (!(await send(chunk(first)))) return;
        for (const piece of call.argumentChunks) {
          if (!(await sendBody(chunk({ tool_calls: [{ index, function: { arguments: piece } }] })))) return;
        }
      }
    } else {
      for (const piece of plan.contentChunks) {
        const logprobs = plan.logprobs ? { content: [tokenLogprobs(plan, piece)], refusal: null } : null;
        if (!(await sendBody(chunk({ content: piece }, null, logprobs)))) return;
      }
    }
    // `!cutafter N` with fewer than N chunks still never finishes: the directive promises a dead stream.
    if (cutAt !== null) return void cut();
    if (stallAt !== null) return void (await stall());
    if (!(await send(chunk({}, plan.finishReason)))) return;
    if (plan.includeUsage) {
      const usage = { id, object: 'chat.completion.chunk', created, model: plan.model, system_fingerprint: 'fp_scripted', choices: [], usage: plan.usage };
      if (!(await send(`data: ${JSON.stringify(usage)}\n\n`))) return;
    }
    res.end('data: [DONE]\n\n');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(opts.host ?? '127.0.0.1')}:${port}/v1`,
    requests,
    responses,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Streams in flight (or sleeping in !delay) would otherwise hold close() open.
        server.closeAllConnections();
      })),
  };
}

/** Keeps the last MAX_RECORDED entries; the array object itself is never replaced. */
function remember<T>(list: T[], entry: T): void {
  list.push(entry);
  if (list.length > MAX_RECORDED) list.splice(0, list.length - MAX_RECORDED);
}

/** The JSON object body of a request, or null once a 400 was sent (bad JSON, or `required` missing). */
async function readRequest(req: IncomingMessage, res: ServerResponse, required: string, has: (body: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | null> {
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req));
  } catch (err) {
    sendError(res, 400, 'invalid_request_error', 'invalid_json', `Invalid JSON body: ${(err as Error).message}`);
    return null;
  }
  if (!isObject(body) || !has(body)) {
    sendError(res, 400, 'invalid_request_error', 'missing_required_parameter', `Missing required parameter: '${required}'.`);
    return null;
  }
  return body;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function modelObject(id: string) {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'spool-testkit' };
}

function callId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

function sendError(res: ServerResponse, status: number, type: string, code: string, message: string, retryAfter: number | null = null): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, retryAfter === null ? {} : { 'retry-after': String(retryAfter) });
}

/** The reasoning text in the field the plan names (OpenRouter's details are a list of entries). */
function reasoningDelta(plan: ReplyPlan, text: string): Record<string, unknown> {
  if (plan.reasoningField === 'reasoning_details') return { reasoning_details: [{ type: 'reasoning.text', text, format: 'unknown', index: 0 }] };
  return { [plan.reasoningField]: text };
}

/** Deterministic logprobs for a piece of text: one token, then `top` alternatives after it. */
function tokenLogprobs(plan: ReplyPlan, piece: string) {
  if (!plan.logprobs) return null;
  const bytes = [...Buffer.from(piece, 'utf8')];
  const top = Array.from({ length: plan.logprobs.top }, (_, k) => (k === 0 ? { token: piece, logprob: -0.25, bytes } : { token: `alt${k}`, logprob: -1 - k, bytes: [...Buffer.from(`alt${k}`)] }));
  return { token: piece, logprob: -0.25, bytes, top_logprobs: top };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (buf: Buffer) => {
      size += buf.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      parts.push(buf);
    });
    req.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.once('error', reject);
  });
}

/** Resolves at once for 0 ms, so the zero-latency (benchmark) path never touches a timer. */
function pause(ms: number, signal: AbortSignal): Promise<void> | void {
  if (ms <= 0 || signal.aborted) return;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
