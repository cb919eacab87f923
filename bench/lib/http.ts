import { Agent, request, type IncomingMessage } from 'node:http';

/**
 * The load generator's HTTP client: `node:http` on a keep-alive agent, used unchanged for the
 * direct upstream and for Spool so both sides pay the same client cost. It is deliberately lean
 * (bodies pre-serialised, no JSON parse on the hot path, SSE split on blank lines only) so that on
 * a 2-core machine the client takes as little CPU from the servers under test as possible.
 */
export interface Endpoint {
  host: string;
  port: number;
  /** Path of the base URL, without a trailing slash (e.g. `/v1`). */
  pathPrefix: string;
  headers: Record<string, string>;
}

export function endpoint(baseUrl: string, apiKey: string | null): Endpoint {
  const u = new URL(baseUrl);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return { host: u.hostname, port: Number(u.port || 80), pathPrefix: u.pathname.replace(/\/$/, ''), headers };
}

export interface Reply {
  status: number;
  body: string;
  /** The `Retry-After` header of a refusal (429/503), when there is one. */
  retryAfter?: string;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Fails the request when no byte moved for this long. */
  timeoutMs?: number;
  /** Called once the status line and headers are in. */
  onHeaders?: (status: number) => void;
}

export class HttpClient {
  private readonly agent: Agent;

  constructor(
    private readonly ep: Endpoint,
    opts: { connections: number; keepAlive?: boolean },
  ) {
    const keepAlive = opts.keepAlive ?? true;
    // Idle sockets are closed after 4 s, before Node servers' 5 s keep-alive timeout: otherwise a
    // request sent on a socket the server is closing at that moment fails with ECONNRESET, an
    // artefact of the client rather than something the server did.
    this.agent = new Agent({ keepAlive, maxSockets: opts.connections, maxFreeSockets: keepAlive ? opts.connections : 0, timeout: 4_000 });
  }

  /** Sends a request and reads the whole body. */
  send(method: string, path: string, body?: Buffer, timeoutMs = 30_000): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = this.open(method, path, body, timeoutMs, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        const retryAfter = res.headers['retry-after'];
        res.once('end', () => resolve(retryAfter === undefined ? { status: res.statusCode ?? 0, body: text } : { status: res.statusCode ?? 0, body: text, retryAfter }));
        res.once('error', reject);
      });
      req.once('error', reject);
    });
  }

  /**
   * Sends a request and hands each Server-Sent Events frame (the text before its blank line) to
   * `onFrame` as it arrives. Resolves with the status when the body ends. A non-2xx body is read
   * whole and passed to `onFrame` once, so callers can report it.
   */
  stream(method: string, path: string, body: Buffer | undefined, onFrame: (frame: string) => void, opts: StreamOptions = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = this.open(
        method,
        path,
        body,
        opts.timeoutMs ?? 30_000,
        (res) => {
          const status = res.statusCode ?? 0;
          opts.onHeaders?.(status);
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            if (status >= 300) return;
            let cut = buffer.indexOf('\n\n');
            while (cut !== -1) {
              onFrame(buffer.slice(0, cut));
              buffer = buffer.slice(cut + 2);
              cut = buffer.indexOf('\n\n');
            }
          });
          res.once('end', () => {
            if (status >= 300 || buffer.trim() !== '') onFrame(buffer);
            resolve(status);
          });
          res.once('error', reject);
          res.once('aborted', () => reject(new Error('response aborted')));
        },
        opts.signal,
      );
      req.once('error', reject);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private open(method: string, path: string, body: Buffer | undefined, timeoutMs: number, onResponse: (res: IncomingMessage) => void, signal?: AbortSignal) {
    const headers: Record<string, string | number> = { ...this.ep.headers };
    if (body) headers['content-length'] = body.length;
    const req = request(
      {
        host: this.ep.host,
        port: this.ep.port,
        method,
        path: this.ep.pathPrefix + path,
        headers,
        agent: this.agent,
        ...(signal ? { signal } : {}),
      },
      onResponse,
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no progress for ${timeoutMs} ms`)));
    req.end(body);
    return req;
  }
}

/** Frame classifiers for the two wire formats the scenarios read. */
export const frames = {
  /** A Responses API text delta (`event: response.output_text.delta`). */
  isResponsesDelta: (f: string) => f.startsWith('event: response.output_text.delta\n'),
  isResponsesCompleted: (f: string) => f.startsWith('event: response.completed\n'),
  /** A Chat Completions chunk carrying text (the opening chunk has `role` first, so it never matches). */
  isChatDelta: (f: string) => f.includes('"delta":{"content":'),
  isDone: (f: string) => f === 'data: [DONE]',
};
