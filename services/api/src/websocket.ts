import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Request, Response } from 'express';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ApiError, assertDepthWithin, parseCreateRequest } from '@spool/protocol';
import type { Logger } from '@spool/runtime';
import { authenticate } from './auth.ts';
import { browserGuard } from './browser.ts';
import { toApiError } from './errors.ts';
import type { ResponsesService } from './responses-service.ts';

/**
 * WebSocket mode of the Responses API: `GET /v1/responses` (or `/responses`) with
 * `Upgrade: websocket`. The client sends `{"type":"response.create", ...create parameters}`; the
 * server answers with the events of the SSE stream as JSON text frames, read from the same event
 * log. Responses run one at a time per connection, in the order created: a `response.create` sent
 * while one runs waits behind it (up to `maxQueued`, then an error event). Every response is an
 * ordinary Spool response; closing the socket only stops its readers.
 */
export interface ResponsesSocketOptions {
  service: ResponsesService;
  logger: Logger;
  apiKeys: string[];
  allowUnauthenticated: boolean;
  corsAllowOrigins: readonly string[];
  /** Bytes of one client message (the HTTP body limit). */
  maxMessageBytes: number;
  maxJsonDepth: number;
  maxQueued: number;
  idleMs: number;
  pingMs: number;
}

/** Paths that upgrade: the /v1 route and the same without /v1 (LiteLLM-style base URLs). */
const SOCKET_PATHS = new Set(['/v1/responses', '/responses', '/v1/responses/', '/responses/']);

/** `store: false` responses one connection remembers for continuation (oldest forgotten first). */
const MAX_LOCAL_RESPONSES = 256;

/** An error event as WebSocket mode sends it: the HTTP status and the error body of the same failure. */
export function socketErrorEvent(err: ApiError): { type: 'error'; status: number; error: { type: string; code: string; message: string; param: string | null } } {
  return { type: 'error', status: err.status, error: { type: err.type, code: err.code ?? err.type, message: err.message, param: err.param } };
}

/**
 * The HTTP checks of the API (browser policy, then the key), run on the upgrade request through
 * the same middleware, so WebSocket mode cannot drift from HTTP. Returns the owner or the refusal.
 */
export function checkUpgrade(req: IncomingMessage, policy: Pick<ResponsesSocketOptions, 'apiKeys' | 'allowUnauthenticated' | 'corsAllowOrigins'>): { owner: string } | { error: ApiError } {
  const header = (name: string) => {
    const v = req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  // The middleware read only these members of an Express request and response.
  const like = { header, headers: req.headers, method: req.method ?? 'GET', socket: req.socket, owner: undefined as string | undefined };
  const res = { setHeader: () => undefined, status: () => ({ end: () => undefined }) };
  let failure: unknown = null;
  const next = (err?: unknown) => {
    if (err) failure = err;
  };
  browserGuard({ allowOrigins: policy.corsAllowOrigins, keyless: policy.apiKeys.length === 0, allowUnauthenticated: policy.allowUnauthenticated })(
    like as unknown as Request,
    res as unknown as Response,
    next,
  );
  if (!failure) authenticate(policy.apiKeys, policy.allowUnauthenticated)(like as unknown as Request, res as unknown as Response, next);
  if (failure) return { error: toApiError(failure) };
  if (!like.owner) return { error: new ApiError(401, 'Missing API key.', 'invalid_request_error', 'invalid_api_key') };
  return { owner: like.owner };
}

function refuseUpgrade(socket: Duplex, err: ApiError): void {
  const body = JSON.stringify(err.toBody());
  const reason = err.status === 401 ? 'Unauthorized' : err.status === 403 ? 'Forbidden' : err.status === 404 ? 'Not Found' : 'Bad Request';
  socket.end(`HTTP/1.1 ${err.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Serves WebSocket mode on `server` (upgrade requests only); `close` ends every connection. */
export function attachResponsesWebSocket(server: Server, opts: ResponsesSocketOptions): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxMessageBytes, perMessageDeflate: false });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    if (!SOCKET_PATHS.has(path)) return refuseUpgrade(socket, new ApiError(404, `Unknown WebSocket URL: ${req.url ?? ''}.`, 'invalid_request_error', 'unknown_url'));
    const checked = checkUpgrade(req, opts);
    if ('error' in checked) return refuseUpgrade(socket, checked.error);
    wss.handleUpgrade(req, socket, head, (ws) => new SocketSession(ws, checked.owner, opts).start());
  };
  server.on('upgrade', onUpgrade);
  return {
    close: () => {
      server.off('upgrade', onUpgrade);
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      wss.close();
    },
  };
}

/** One connection: its queue of `response.create` messages and its connection-local responses. */
class SocketSession {
  private readonly queue: Array<Record<string, unknown>> = [];
  private running = false;
  private readonly local = new Set<string>();
  private readonly abort = new AbortController();
  private alive = true;
  private idle: NodeJS.Timeout | undefined;
  private ping: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly owner: string,
    private readonly opts: ResponsesSocketOptions,
  ) {}

  start(): void {
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('pong', () => {
      this.alive = true;
    });
    this.ws.on('close', () => this.stop());
    this.ws.on('error', () => this.stop());
    this.ping = setInterval(() => {
      // A peer that did not answer the last ping is gone (a half-open TCP connection).
      if (!this.alive) return void this.ws.terminate();
      this.alive = false;
      this.ws.ping();
    }, this.opts.pingMs);
    this.ping.unref();
    this.touch();
  }

  private stop(): void {
    clearInterval(this.ping);
    clearTimeout(this.idle);
    // Readers stop; the responses themselves run on.
    this.abort.abort();
  }

  /** Idle time counts only while nothing runs or waits. */
  private touch(): void {
    clearTimeout(this.idle);
    if (this.running || this.queue.length > 0) return;
    this.idle = setTimeout(() => this.ws.close(1000, 'idle'), this.opts.idleMs);
    this.idle.unref();
  }

  private send(json: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(json);
  }

  private sendError(err: ApiError): void {
    this.send(JSON.stringify(socketErrorEvent(err)));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.handle(data, isBinary);
    // After the message is queued (and running), so a response in progress is never "idle".
    this.touch();
  }

  private handle(data: RawData, isBinary: boolean): void {
    let message: unknown;
    try {
      if (isBinary) throw new Error('binary');
      message = JSON.parse(data.toString());
    } catch {
      // The one case that closes the socket: nothing in it can be answered.
      this.sendError(ApiError.badRequest('The message is not valid JSON text.', null, 'invalid_json'));
      this.ws.close(1007, 'invalid JSON');
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return this.sendError(ApiError.badRequest('A message must be a JSON object with a `type`.', 'type', 'invalid_value'));
    }
    const type = (message as Record<string, unknown>).type;
    if (type !== 'response.create') {
      return this.sendError(ApiError.badRequest(`Unsupported message type ${JSON.stringify(type ?? null)}: send 'response.create'.`, 'type', 'unsupported_event_type'));
    }
    if (this.queue.length >= this.opts.maxQueued + (this.running ? 0 : 1)) {
      return this.sendError(
        new ApiError(429, `Too many queued response.create messages on this connection: at most ${this.opts.maxQueued} wait behind the running one.`, 'rate_limit_error', 'too_many_queued_requests'),
      );
    }
    this.queue.push(message as Record<string, unknown>);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.queue.shift(); next !== undefined && !this.abort.signal.aborted; next = this.queue.shift()) {
        await this.run(next);
      }
    } finally {
      this.running = false;
      this.touch();
    }
  }

  private remember(id: string): void {
    this.local.add(id);
    if (this.local.size > MAX_LOCAL_RESPONSES) this.local.delete(this.local.values().next().value as string);
  }

  private async run(message: Record<string, unknown>): Promise<void> {
    // `stream` and `stream_options` are HTTP's business: a socket always streams.
    const { type: _type, generate, stream: _stream, stream_options: _so, ...body } = message;
    const previous = typeof body.previous_response_id === 'string' ? body.previous_response_id : null;
    try {
      assertDepthWithin(body, this.opts.maxJsonDepth);
      if (generate !== undefined && typeof generate !== 'boolean') throw ApiError.badRequest("Invalid value for 'generate': expected a boolean.", 'generate');
      const request = parseCreateRequest(body);
      const created = await this.opts.service.create(request, this.owner, { watch: true, generate: generate !== false, connectionResponses: this.local });
      if (request.store === false) this.remember(created.id);
      let terminal: string | null = null;
      await this.opts.service.follow(
        created.id,
        -1,
        (e) => {
          if (e.type === 'response.completed' || e.type === 'response.failed' || e.type === 'response.incomplete') terminal = e.type;
          this.send(e.json);
        },
        this.abort.signal,
        created.subscription,
      );
      // A continuation that failed leaves nothing to continue from on this connection.
      if (terminal === 'response.failed' && previous) this.local.delete(previous);
    } catch (err) {
      if (previous) this.local.delete(previous);
      const apiError = toApiError(err);
      if (apiError.status >= 500) this.opts.logger.error({ err }, 'websocket response.create failed');
      this.sendError(apiError);
    }
  }
}
