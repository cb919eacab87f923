import { StringDecoder } from 'node:string_decoder';
import { APIError } from 'openai';
import { takeNodeBody } from './node-fetch.ts';

/**
 * Reading the body of an upstream answer. The `openai` SDK makes every call (URL, auth, headers,
 * retries with backoff and retry-after, the timeout, abort, HTTP errors as `APIError`); the worker
 * then reads the 2xx body here, from the node stream `node-fetch.ts` got it on, instead of through
 * the SDK's decoder stack (web streams, then four layers of async generators per chunk). Measured
 * with `npx tsx bench/micro/upstream-client.ts`: that decoding was most of the SDK's CPU per call.
 *
 * The semantics are the SDK's own (`Stream.fromSSEResponse`, legacy mode): events after `[DONE]`
 * are ignored, an `error` event or a chunk with an `error` member throws `APIError`, malformed JSON
 * throws `SyntaxError`. A body that ends without `[DONE]` ends the reading, as in the SDK. (Non-streamed
 * answers are left to the SDK entirely: see upstream.ts.)
 */

/** limits.upstream_idle_timeout_ms's default. */
const DEFAULT_IDLE_MS = 120_000;

/** One server-sent event: its `event` field (null when absent) and its joined `data` lines. */
export interface SseMessage {
  event: string | null;
  data: string;
}

/**
 * Incremental SSE parser (the WHATWG event-stream rules): lines end in CRLF, LF or CR; a blank
 * line dispatches; `data` lines are joined with LF; comments and unknown fields are ignored.
 */
export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  /** A chunk ended in CR: an LF at the start of the next one belongs to the same line end. */
  private skipLf = false;
  private event: string | null = null;
  private data: string[] = [];

  /** Feeds bytes; returns the events they complete, in order. */
  push(chunk: Buffer | string): SseMessage[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (this.skipLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLf = false;
    text = this.pending + text;
    const out: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const lf = text.indexOf('\n', start);
      const cr = text.indexOf('\r', start);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      this.line(text.slice(start, end), out);
      if (text.charCodeAt(end) === 13) {
        if (end + 1 === text.length) {
          this.skipLf = true;
          start = end + 1;
          break;
        }
        start = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else start = end + 1;
    }
    this.pending = text.slice(start);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.data.length > 0 || this.event !== null) out.push({ event: this.event, data: this.data.join('\n') });
      this.event = null;
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}

/**
 * An upstream body that sent nothing for `idleMs`: the SDK's timeout covers the wait for headers
 * only, and a stalled body would otherwise hold a worker slot for ever.
 */
export class UpstreamIdleError extends Error {
  override readonly name = 'UpstreamIdleError';
  readonly code = 'upstream_idle';
  constructor(readonly idleMs: number) {
    super(`the upstream went quiet: no data for ${idleMs} ms (limits.upstream_idle_timeout_ms)`);
  }
}

/**
 * Feeds the body to `onChunk`, chunk by chunk: from the node stream when there is one, else from
 * the web stream. Resolves at the end of the body; rejects when it breaks off, when nothing
 * arrives for `idleMs`, or when `onChunk` throws (the body is then let go). `onChunk` returning
 * false stops reading early, successfully.
 */
function readBody(response: Response, onChunk: (chunk: Buffer) => boolean | void, idleMs: number): Promise<void> {
  const node = takeNodeBody(response);
  if (!node) return readWebBody(response, onChunk, idleMs);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    // One timer per body, pushed back with refresh() on each read (no new timer per chunk).
    const idle = setTimeout(() => settle(new UpstreamIdleError(idleMs)), idleMs);
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      node.off('data', onData);
      if (err !== undefined) {
        node.destroy();
        reject(err);
      } else resolve();
    };
    // Events rather than the async iterator: the iterator destroys an IncomingMessage it deems
    // unfinished, which closes a keep-alive socket the next call could have reused.
    const onData = (chunk: Buffer) => {
      idle.refresh();
      try {
        if (onChunk(chunk) === false) {
          // Nothing more is wanted: drain the rest so the connection can be reused.
          node.off('data', onData);
          node.resume();
          settle();
        }
      } catch (err) {
        settle(err);
      }
    };
    node.on('data', onData);
    node.once('end', () => settle());
    node.once('error', (err) => settle(err));
    node.once('close', () => settle(node.readableEnded ? undefined : new Error('The upstream connection closed mid-body.')));
  });
}

async function readWebBody(response: Response, onChunk: (chunk: Buffer) => boolean | void, idleMs: number): Promise<void> {
  if (!response.body) return;
  const reader = response.body.getReader();
  let finished = false;
  let quiet: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_, reject) => {
    quiet = setTimeout(() => reject(new UpstreamIdleError(idleMs)), idleMs);
  });
  idle.catch(() => undefined);
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), idle]);
      quiet?.refresh();
      if (done) break;
      if (onChunk(Buffer.from(value.buffer, value.byteOffset, value.byteLength)) === false) break;
    }
    finished = true;
  } finally {
    clearTimeout(quiet);
    if (!finished) reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * Parses one event's data as the SDK does, throwing the SDK's errors for error payloads, unless
 * `typedErrors`: a Responses stream's `error` and `response.failed` events carry a code that
 * the caller maps itself (responses-events.ts), so they are handed over like any other event.
 */
function decode<T>(sse: SseMessage, headers: Headers, typedErrors: boolean): T {
  let data: unknown;
  try {
    data = JSON.parse(sse.data);
  } catch {
    throw new SyntaxError('Error reading response: malformed server-sent event JSON.');
  }
  const obj = data as { error?: unknown } | null;
  if (typedErrors) return data as T;
  if (sse.event === 'error') throw new APIError(undefined, (obj?.error ?? obj) as object, undefined, headers);
  if (obj && obj.error) throw new APIError(undefined, obj.error as object, undefined, headers);
  return data as T;
}

/**
 * Reads a streamed (SSE) answer until `[DONE]` or the end of the body, handing `onChunks` the JSON
 * chunks of each network read together, in order.
 */
export async function readSseJson<T>(response: Response, onChunks: (chunks: T[]) => void, idleMs: number = DEFAULT_IDLE_MS, opts: { typedErrors?: boolean } = {}): Promise<void> {
  // An event the body ends without a blank line after is dropped, as the SSE rules say: the
  // parser simply never dispatches it.
  const parser = new SseParser();
  const headers = response.headers;
  await readBody(
    response,
    (bytes) => {
      const batch: T[] = [];
      let more = true;
      for (const sse of parser.push(bytes)) {
        if (sse.data === '[DONE]') {
          more = false;
          break;
        }
        // Named thread.* events belong to the Assistants API, never to Chat Completions.
        if (sse.event?.startsWith('thread.')) continue;
        batch.push(decode<T>(sse, headers, opts.typedErrors ?? false));
      }
      if (batch.length > 0) onChunks(batch);
      return more;
    },
    idleMs,
  );
}
