import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { SSEClientTransport, SseError, type SSEClientTransportOptions } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { STATUS_CODES } from 'node:http';
import { McpServerError, describeStatus } from './errors.ts';
import { poolKey, type McpTarget } from './target.ts';
import { Agent, fetch as undiciFetch } from 'undici';
import { ADDRESS_NOT_ALLOWED, type LookupFunction } from './ssrf.ts';

/** One tool as OpenAI's `mcp_list_tools` item lists it. */
export interface McpToolInfo {
  name: string;
  description: string | null;
  input_schema: Record<string, unknown>;
  annotations: Record<string, unknown> | null;
}

/** Why a call failed, in the shape of OpenAI's `mcp_call.error`. */
export type McpCallError =
  | { type: 'mcp_protocol_error'; code: number; message: string }
  | { type: 'mcp_tool_execution_error'; content: unknown[] }
  | { type: 'http_error'; code: number; message: string };

/**
 * What one tool call came to. A failed call is a value, not an exception: the response goes on and
 * the model is told (OpenAI's `mcp_call` with `status: "failed"`). `message` is a one-line summary
 * for the model and the logs; it never contains header values or a server's HTTP response body.
 */
export type McpCallOutcome = { ok: true; output: string } | { ok: false; error: McpCallError; message: string };

export interface McpProgress {
  progress: number;
  total?: number;
  message?: string;
}

export interface McpClientPoolOptions {
  /** How Spool introduces itself in `initialize`. */
  clientInfo?: { name: string; version: string };
  /**
   * Bound on connecting (transport start + `initialize`), whatever the target's `timeoutMs`: a target
   * configured for 10-minute tools should not make a dead server take 10 minutes to report.
   */
  connectTimeoutMs?: number;
  /** A session nobody used for this long is closed, so sessions keyed by per-user credentials do not pile up. */
  idleTimeoutMs?: number;
  /** A stdio server's stderr. Discarded by default; this library never logs (the service decides). */
  onStderr?: (label: string, text: string) => void;
  /**
   * The socket lookup for `guarded` targets (request `server_url`s): `guardedLookup`, so that the
   * address the SSRF rule checked is the one connected to. A guarded target without it is refused.
   */
  guardedLookup?: LookupFunction;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** A server that pages forever (or cycles its cursors) must not hold a worker forever. */
const MAX_TOOL_PAGES = 100;
/** Connection attempts when the first ones die on sockets the server had already closed. */
const CONNECT_ATTEMPTS = 3;
/** Closing politely (HTTP DELETE of the session) must not hold up shutdown. */
const TERMINATE_TIMEOUT_MS = 2_000;

/** Headers the transport itself owns: a caller-supplied copy would break the session or the framing. */
const RESERVED_HEADERS = new Set([
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'content-type',
  'content-length',
  'accept',
  'host',
  'connection',
  'transfer-encoding',
]);

type TransportKind = 'streamable-http' | 'sse' | 'stdio';

interface Session {
  readonly key: string;
  readonly client: Client;
  readonly transport: Transport;
  /** Operations holding the session; a retired session closes when this drops to zero. */
  inflight: number;
  /** No new operation may start on it (the pool has already forgotten it). */
  retired: boolean;
  /** The transport closed under us: errors from now on mean "connection closed". */
  closed: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  disposing: Promise<void> | undefined;
}

/**
 * One connected MCP `Client` per target and credentials (`poolKey`), created on first use; callers
 * that arrive while it connects share the same connection attempt.
 *
 * A session that breaks (HTTP error, unreachable, connection closed, server restarted and forgot the
 * session) is dropped and the next use connects again. `listTools` retries once on a fresh
 * connection when a pooled session turned out to be stale; `callTool` never retries, since running a
 * tool twice is only safe when the tool says so, and that is the caller's decision.
 */
export class McpClientPool {
  readonly #clientInfo: { name: string; version: string };
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #onStderr: ((label: string, text: string) => void) | undefined;
  /** One connection pool for every guarded target, its DNS lookup checked (see the option). */
  readonly #guardedAgent: Agent | null;
  readonly #sessions = new Map<string, Session>();
  readonly #connecting = new Map<string, Promise<Session>>();
  readonly #all = new Set<Session>();
  #closed = false;

  constructor(options: McpClientPoolOptions = {}) {
    this.#clientInfo = options.clientInfo ?? { name: 'spool-mcp-executor', version: '0.1.0' };
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#onStderr = options.onStderr;
    this.#guardedAgent = options.guardedLookup ? new Agent({ connect: { lookup: options.guardedLookup } }) : null;
  }

  /**
   * Every tool of the server, following pagination cursors. Throws `McpServerError` on any failure;
   * never answers an empty list for a server that refused or could not be reached.
   */
  async listTools(t: McpTarget, opts: { signal?: AbortSignal } = {}): Promise<McpToolInfo[]> {
    for (let attempt = 0; ; attempt++) {
      let lease: { session: Session; reused: boolean };
      try {
        lease = await this.#acquire(t, opts.signal);
      } catch (error) {
        throw listError(t, classify(error, opts.signal, undefined), error);
      }
      const { session, reused } = lease;
      try {
        return await this.#listAllPages(session, t, opts.signal);
      } catch (error) {
        const failure = classify(error, opts.signal, session);
        if (!isSessionFailure(failure)) throw listError(t, failure, error);
        this.#retire(session);
        // A pooled session may simply have gone stale (server restarted): one fresh attempt. A session
        // connected just now failing the same way would fail again.
        if (!reused || attempt > 0) throw listError(t, failure, error);
      } finally {
        this.#release(session);
      }
    }
  }

  /**
   * Calls one tool. Resolves with the outcome, failed or not; rejects only on a programming error.
   * The per-target `timeoutMs` restarts whenever the tool reports progress. When the call is given up
   * (timeout or `signal`), the SDK sends `notifications/cancelled` so the server can stop the work.
   */
  async callTool(
    t: McpTarget,
    name: string,
    args: Record<string, unknown>,
    opts: { signal?: AbortSignal; onProgress?: (p: McpProgress) => void; meta?: Record<string, string> } = {},
  ): Promise<McpCallOutcome> {
    if (opts.signal?.aborted) return failedOutcome(t, { kind: 'cancelled' });
    let session: Session;
    try {
      ({ session } = await this.#acquire(t, opts.signal));
    } catch (error) {
      return failedOutcome(t, classify(error, opts.signal, undefined));
    }
    const { onProgress } = opts;
    try {
      const result = await withLinkedSignal(opts.signal, (signal) =>
        // `_meta` carries the W3C trace context (`traceparent`) to the server, as MCP tracing expects.
        session.client.callTool({ name, arguments: args, ...(opts.meta && Object.keys(opts.meta).length > 0 ? { _meta: opts.meta } : {}) }, undefined, {
          signal,
          timeout: t.timeoutMs,
          resetTimeoutOnProgress: true,
          ...(onProgress ? { onprogress: (p) => reportProgress(onProgress, p) } : {}),
        }),
      );
      const content: unknown[] = Array.isArray(result.content) ? result.content : [];
      if (result.isError === true) {
        return {
          ok: false,
          error: { type: 'mcp_tool_execution_error', content },
          message: contentText(content, undefined) || `Tool '${name}' failed without a message.`,
        };
      }
      return { ok: true, output: contentText(content, result.structuredContent) };
    } catch (error) {
      const failure = classify(error, opts.signal, session);
      if (isSessionFailure(failure)) this.#retire(session);
      return failedOutcome(t, failure);
    } finally {
      this.#release(session);
    }
  }

  /** Closes every session (ending stdio servers, and telling HTTP servers the session is over). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#connecting.values()]);
    await Promise.all([...this.#all].map((s) => this.#dispose(s, true)));
    this.#sessions.clear();
    await this.#guardedAgent?.close().catch(() => undefined);
  }

  /** The fetch for a target: through the checked lookup when the target is guarded. */
  #fetchFor(t: Extract<McpTarget, { kind: 'http' }>): typeof fetch {
    if (!t.guarded) return fetch;
    const dispatcher = this.#guardedAgent;
    if (!dispatcher) throw new PoolError('A request server_url needs the guarded lookup, and this pool has none.');
    return ((input: string | URL | Request, init?: RequestInit) => undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  }

  // --- sessions -------------------------------------------------------------------------------------

  async #acquire(t: McpTarget, signal: AbortSignal | undefined): Promise<{ session: Session; reused: boolean }> {
    if (this.#closed) throw new PoolError('The MCP client pool is closed.');
    const key = poolKey(t);
    const live = this.#sessions.get(key);
    if (live && !live.retired) {
      this.#hold(live);
      return { session: live, reused: true };
    }
    let connecting = this.#connecting.get(key);
    if (!connecting) {
      // The connection is shared, so it is bounded by the connect timeout only, never by one
      // caller's signal: a caller that gives up must not fail the others waiting on it.
      const attempt = this.#connect(t, key);
      const forget = (): void => {
        if (this.#connecting.get(key) === attempt) this.#connecting.delete(key);
      };
      attempt.then(forget, forget);
      this.#connecting.set(key, attempt);
      connecting = attempt;
    }
    const session = await abortable(connecting, signal);
    this.#hold(session);
    return { session, reused: false };
  }

  #hold(session: Session): void {
    session.inflight++;
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
  }

  #release(session: Session): void {
    session.inflight--;
    if (session.inflight > 0) return;
    if (session.retired) {
      void this.#dispose(session, false);
      return;
    }
    session.idleTimer = setTimeout(() => {
      this.#retire(session, { terminate: true });
    }, this.#idleTimeoutMs);
    // An idle session must not keep a worker process alive at shutdown.
    session.idleTimer.unref();
  }

  /**
   * Forget a session. Operations still running on it finish (a long tool call survives a hiccup on
   * another request), unless `now`: then they fail at once with "connection closed".
   */
  #retire(session: Session, opts: { now?: boolean; terminate?: boolean } = {}): void {
    session.retired = true;
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
    if (opts.now || session.inflight === 0) void this.#dispose(session, opts.terminate ?? false);
  }

  #dispose(session: Session, terminate: boolean): Promise<void> {
    session.retired = true;
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
    session.disposing ??= (async () => {
      // Ending the session on the server frees its state there; only worth it while it is healthy.
      if (terminate && !session.closed && session.transport instanceof StreamableHTTPClientTransport) {
        await withTimeout(session.transport.terminateSession(), TERMINATE_TIMEOUT_MS).catch(() => undefined);
      }
      await session.client.close().catch(() => undefined);
      this.#all.delete(session);
    })();
    return session.disposing;
  }

  async #connect(t: McpTarget, key: string): Promise<Session> {
    let session: Session;
    for (let attempt = 1; ; attempt++) {
      try {
        session = t.kind === 'stdio' ? await this.#open(t, key, 'stdio') : await this.#openHttp(t, key);
        break;
      } catch (error) {
        // After a server restart, fetch's keep-alive pool still holds sockets the server closed, and a
        // POST on one fails as "other side closed" (undici retries only idempotent methods). The
        // handshake has no side effects, so it is simply tried again on a new socket.
        if (attempt >= CONNECT_ATTEMPTS || !isStaleSocket(error)) throw error;
      }
    }
    if (this.#closed) {
      await this.#dispose(session, true);
      throw new PoolError('The MCP client pool is closed.');
    }
    this.#sessions.set(key, session);
    return session;
  }

  async #openHttp(t: Extract<McpTarget, { kind: 'http' }>, key: string): Promise<Session> {
    if (t.transport !== 'auto') return this.#open(t, key, t.transport);
    try {
      return await this.#open(t, key, 'streamable-http');
    } catch (error) {
      if (!looksLikeOtherTransport(error)) throw error;
      // The backwards-compatible pattern from the MCP SDK docs: a server that refuses the Streamable
      // HTTP `initialize` POST with a 4xx may be an older HTTP+SSE server at the same URL.
      try {
        return await this.#open(t, key, 'sse');
      } catch (sseError) {
        // Whichever attempt got further explains the failure better: when the POST said "not here"
        // (404/405), that is the SSE attempt; when it said something more specific, the POST.
        const postStatus = httpStatusOf(error);
        throw postStatus === 404 || postStatus === 405 ? sseError : error;
      }
    }
  }

  async #open(t: McpTarget, key: string, kind: TransportKind): Promise<Session> {
    const transport = this.#makeTransport(t, kind);
    const client = new Client(this.#clientInfo, { capabilities: {} });
    const session: Session = {
      key,
      client,
      transport,
      inflight: 0,
      retired: false,
      closed: false,
      idleTimer: undefined,
      disposing: undefined,
    };
    let connected = false;
    client.onclose = () => {
      session.closed = true;
      if (connected) this.#retire(session);
    };
    client.onerror = (error) => {
      if (!connected) return;
      // An SSE session lives on its GET stream: once it breaks, the responses of pending requests can
      // never arrive, and EventSource would silently reconnect into a new, uninitialised server
      // session. Fail everything on it now.
      if (kind === 'sse' && error instanceof SseError) this.#retire(session, { now: true });
      // Streamable HTTP reports a lost session (404), revoked credentials (401) or an unreachable
      // server through the background GET stream; requests in flight may still complete, so the
      // session is only retired.
      else if (kind === 'streamable-http' && (httpStatusOf(error) !== undefined || networkFailureOf(error))) {
        this.#retire(session);
      }
    };
    try {
      await withTimeout(
        client.connect(transport, { timeout: this.#connectTimeoutMs }),
        this.#connectTimeoutMs,
        () => new ConnectTimeoutError(this.#connectTimeoutMs),
      );
    } catch (error) {
      // Client.connect does not close a transport whose start() failed; an SSE transport would
      // otherwise keep reconnecting its EventSource forever.
      session.closed = true;
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw error;
    }
    connected = true;
    this.#all.add(session);
    return session;
  }

  #makeTransport(t: McpTarget, kind: TransportKind): Transport {
    if (t.kind === 'stdio') {
      const params: StdioServerParameters = { command: t.command, args: t.args, env: t.env, stderr: 'pipe' };
      if (t.cwd !== undefined) params.cwd = t.cwd;
      const transport = new StdioClientTransport(params);
      // Always drain stderr: an unread pipe fills up and then blocks the server on its next write.
      const onStderr = this.#onStderr;
      transport.stderr?.on('data', (chunk: Buffer) => onStderr?.(t.label, chunk.toString('utf8')));
      return transport;
    }
    const url = parseTargetUrl(t.url);
    const headers = forwardableHeaders(t.headers);
    const fetchFn = this.#fetchFor(t);
    if (kind === 'sse') {
      // requestInit covers the POSTs (and, in SDK 1.32, the GET too); the EventSource fetch adds the
      // same headers to the GET explicitly, so credentials never depend on that SDK detail.
      const eventSourceInit: NonNullable<SSEClientTransportOptions['eventSourceInit']> = {
        fetch: (input, init) => {
          const merged = new Headers(init.headers);
          for (const [name, value] of Object.entries(headers)) if (!merged.has(name)) merged.set(name, value);
          return fetchFn(input, { ...init, headers: merged });
        },
      };
      return new SSEClientTransport(url, { requestInit: { headers }, eventSourceInit, fetch: fetchFn });
    }
    return new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: fetchFn });
  }

  async #listAllPages(session: Session, t: McpTarget, signal: AbortSignal | undefined): Promise<McpToolInfo[]> {
    const tools: McpToolInfo[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const result = await withLinkedSignal(signal, (s) =>
        session.client.listTools(cursor === undefined ? undefined : { cursor }, { signal: s, timeout: t.timeoutMs }),
      );
      tools.push(...result.tools.map(toToolInfo));
      cursor = result.nextCursor;
      if (cursor === undefined) return tools;
      if (seen.has(cursor)) throw new PoolError('The MCP server repeated a tools/list cursor.');
      seen.add(cursor);
    }
    throw new PoolError(`The MCP server returned more than ${MAX_TOOL_PAGES} pages of tools.`);
  }
}

// --- failures --------------------------------------------------------------------------------------

/** An error of ours whose message is safe to show (no header values, no server response body). */
class PoolError extends Error {
  override readonly name = 'PoolError';
}

class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`Timed out connecting after ${timeoutMs} ms.`);
  }
}

type Failure =
  | { kind: 'http'; status: number }
  | { kind: 'unreachable'; detail: string }
  | { kind: 'timeout'; timeoutMs: number | undefined; connecting: boolean }
  | { kind: 'cancelled' }
  | { kind: 'closed' }
  | { kind: 'protocol'; code: number; message: string }
  | { kind: 'other'; message: string };

/** The session is unusable (as opposed to one request having failed on a healthy session). */
function isSessionFailure(f: Failure): boolean {
  return f.kind === 'http' || f.kind === 'unreachable' || f.kind === 'closed';
}

/** `session` is undefined while connecting. */
function classify(error: unknown, callerSignal: AbortSignal | undefined, session: Session | undefined): Failure {
  // Whatever the SDK made of it (it wraps an abort as a RequestTimeout McpError), the caller gave up.
  if (callerSignal?.aborted) return { kind: 'cancelled' };
  if (error instanceof ConnectTimeoutError) {
    return { kind: 'timeout', timeoutMs: error.timeoutMs, connecting: true };
  }
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout) {
      const data: unknown = error.data;
      const ms = isRecord(data) && typeof data.timeout === 'number' ? data.timeout : undefined;
      return { kind: 'timeout', timeoutMs: ms, connecting: session === undefined };
    }
    // A server that hangs up during the handshake (a stdio server exiting at start-up) was never reached.
    if (error.code === ErrorCode.ConnectionClosed) {
      if (session === undefined) return { kind: 'unreachable', detail: 'the server closed the connection while connecting' };
      if (session.closed) return { kind: 'closed' };
    }
    return { kind: 'protocol', code: error.code, message: stripMcpPrefix(error.message) };
  }
  const status = httpStatusOf(error);
  if (status !== undefined) return { kind: 'http', status };
  const network = networkFailureOf(error);
  if (network) return { kind: 'unreachable', detail: network };
  if (session?.closed) return { kind: 'closed' };
  if (error instanceof PoolError) return { kind: 'other', message: error.message };
  // Anything else may quote a header value (undici's invalid-header errors do): not shown.
  const name = error instanceof Error ? error.name : typeof error;
  return { kind: 'other', message: `Unexpected error talking to the MCP server (${name}).` };
}

/** The HTTP status behind a transport error, from each transport's own error shape. */
function httpStatusOf(error: unknown): number | undefined {
  const valid = (code: unknown): number | undefined =>
    typeof code === 'number' && code >= 100 && code <= 599 ? code : undefined;
  if (error instanceof StreamableHTTPError || error instanceof SseError) return valid(error.code);
  if (error instanceof UnauthorizedError) return 401;
  // SSEClientTransport.send() throws a plain Error for a failed POST; the status is only in the text.
  if (error instanceof Error) {
    const match = /^Error POSTing to endpoint \(HTTP (\d{3})\)/.exec(error.message);
    if (match?.[1]) return valid(Number(match[1]));
  }
  return undefined;
}

const NETWORK_CODES = new Map<string, string>([
  ['ECONNREFUSED', 'connection refused'],
  [ADDRESS_NOT_ALLOWED, 'address not allowed'],
  ['ECONNRESET', 'connection reset'],
  ['EPIPE', 'connection reset'],
  ['ENOTFOUND', 'host not found'],
  ['EAI_AGAIN', 'host not found'],
  ['EHOSTUNREACH', 'host unreachable'],
  ['ENETUNREACH', 'network unreachable'],
  ['ETIMEDOUT', 'connection timed out'],
  ['UND_ERR_CONNECT_TIMEOUT', 'connection timed out'],
  ['UND_ERR_SOCKET', 'connection reset'],
  ['UND_ERR_HEADERS_TIMEOUT', 'no response headers in time'],
  ['CERT_HAS_EXPIRED', 'TLS certificate error'],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'TLS certificate error'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'TLS certificate error'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'TLS certificate error'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'TLS certificate error'],
  // A stdio server that cannot be started is as unreachable as a dead host.
  ['ENOENT', 'command not found'],
  ['EACCES', 'permission denied'],
]);

/** A description when `error` is a failure to reach the server at all. */
function networkFailureOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    const known = typeof code === 'string' ? NETWORK_CODES.get(code) : undefined;
    if (known !== undefined) return `${known} (${String(code)})`;
    // EventSource flattens the fetch error into the message of its error event.
    if (current instanceof SseError) {
      for (const [networkCode, text] of NETWORK_CODES) {
        if (current.message.includes(networkCode)) return `${text} (${networkCode})`;
      }
    }
    current = current.cause;
  }
  if (error instanceof TypeError && error.message === 'fetch failed') return 'network error';
  if (error instanceof SseError && error.code === undefined && /fetch failed/.test(error.message)) return 'network error';
  return undefined;
}

/** A request that died on a reused keep-alive socket: the server never answered it. */
function isStaleSocket(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return true;
    current = current.cause;
  }
  return false;
}

/** Some transports fail in ways that suggest the server speaks the other HTTP transport. */
function looksLikeOtherTransport(error: unknown): boolean {
  if (!(error instanceof StreamableHTTPError)) return false;
  // -1: a 2xx with a content type Streamable HTTP does not use.
  if (error.code === -1) return true;
  const status = httpStatusOf(error);
  // Authentication failures say nothing about the transport; an SSE attempt would only obscure them.
  return status !== undefined && status >= 400 && status < 500 && ![401, 403, 407, 408, 429].includes(status);
}

function listError(t: McpTarget, failure: Failure, cause: unknown): McpServerError {
  const prefix = `Error retrieving tool list from MCP server: '${t.label}'.`;
  switch (failure.kind) {
    case 'http': {
      const code = failure.status === 401 || failure.status === 403 ? 'mcp_unauthorized' : 'mcp_list_failed';
      return new McpServerError(code, `${prefix} Http status code: ${describeStatus(failure.status)}`, {
        httpStatus: failure.status,
        cause,
      });
    }
    case 'unreachable':
      return new McpServerError('mcp_unreachable', `${prefix} Could not connect: ${failure.detail}.`, { cause });
    case 'timeout':
      return new McpServerError('mcp_timeout', `${prefix} ${timeoutText(failure, t)}`, { cause });
    case 'cancelled':
      return new McpServerError('mcp_timeout', `${prefix} The request was cancelled.`, { cause });
    case 'closed':
      return new McpServerError('mcp_list_failed', `${prefix} The connection closed.`, { cause });
    case 'protocol':
      return new McpServerError('mcp_list_failed', `${prefix} MCP error ${failure.code}: ${failure.message}`, { cause });
    case 'other':
      return new McpServerError('mcp_list_failed', `${prefix} ${failure.message}`, { cause });
    default:
      return assertNever(failure);
  }
}

/**
 * Transport-level failures have no JSON-RPC code of their own; they borrow the SDK's: -32001
 * (RequestTimeout) for a timeout or a cancel, -32000 (ConnectionClosed) for a connection that could
 * not be made or was lost. HTTP statuses are `http_error`, with the status in the message.
 */
function failedOutcome(t: McpTarget, failure: Failure): McpCallOutcome {
  const server = `MCP server '${t.label}'`;
  switch (failure.kind) {
    case 'http': {
      const text = `HTTP ${failure.status} ${STATUS_CODES[failure.status] ?? ''}`.trim();
      return { ok: false, error: { type: 'http_error', code: failure.status, message: text }, message: `${server} answered ${text}.` };
    }
    case 'unreachable': {
      const text = `Could not reach the MCP server: ${failure.detail}.`;
      return protocolFailure(ErrorCode.ConnectionClosed, text, `${server}: ${text}`);
    }
    case 'timeout': {
      const text = timeoutText(failure, t);
      return protocolFailure(ErrorCode.RequestTimeout, text, `${server}: ${text}`);
    }
    case 'cancelled':
      return protocolFailure(ErrorCode.RequestTimeout, 'The tool call was cancelled.', `${server}: the tool call was cancelled.`);
    case 'closed':
      return protocolFailure(ErrorCode.ConnectionClosed, 'The connection to the MCP server closed.', `${server}: the connection closed.`);
    case 'protocol':
      return protocolFailure(failure.code, failure.message, `${server} answered MCP error ${failure.code}: ${failure.message}`);
    case 'other':
      return protocolFailure(ErrorCode.InternalError, failure.message, `${server}: ${failure.message}`);
    default:
      return assertNever(failure);
  }
}

function protocolFailure(code: number, text: string, message: string): McpCallOutcome {
  return { ok: false, error: { type: 'mcp_protocol_error', code, message: text }, message };
}

function timeoutText(failure: Extract<Failure, { kind: 'timeout' }>, t: McpTarget): string {
  const ms = failure.timeoutMs ?? t.timeoutMs;
  return failure.connecting
    ? `Timed out connecting to the MCP server after ${ms} ms.`
    : `The request timed out after ${ms} ms without a response or progress.`;
}

// --- helpers ---------------------------------------------------------------------------------------

function toToolInfo(tool: Tool): McpToolInfo {
  return {
    name: tool.name,
    description: tool.description ?? null,
    input_schema: tool.inputSchema,
    annotations: tool.annotations ?? null,
  };
}

/**
 * OpenAI's `mcp_call.output` is one string: text blocks as they are, other blocks (images,
 * resources, links) as JSON, one block per line; a result with only structured content gives that as JSON.
 */
function contentText(content: unknown[], structured: unknown): string {
  const parts = content.map((block) =>
    isRecord(block) && block.type === 'text' && typeof block.text === 'string' ? block.text : JSON.stringify(block),
  );
  if (parts.length === 0 && structured !== undefined) return JSON.stringify(structured);
  return parts.join('\n');
}

function reportProgress(
  onProgress: (p: McpProgress) => void,
  p: { progress: number; total?: number | undefined; message?: string | undefined },
): void {
  const progress: McpProgress = { progress: p.progress };
  if (p.total !== undefined) progress.total = p.total;
  if (p.message !== undefined) progress.message = p.message;
  try {
    onProgress(progress);
  } catch {
    // A failing observer must not break the call it observes.
  }
}

function forwardableHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) continue;
    // Checked here so that the error names the header but never quotes its value (fetch's would).
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new PoolError(`Invalid HTTP header name '${name}'.`);
    if (/[\r\n\0]/.test(value)) throw new PoolError(`Invalid value for HTTP header '${name}'.`);
    out[name] = value;
  }
  return out;
}

function parseTargetUrl(url: string): URL {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed;
  } catch {
    // fall through
  }
  throw new PoolError('The MCP server URL is not a valid http(s) URL.');
}

/** Runs `fn` with a signal of its own that follows `outer` until `fn` settles. */
async function withLinkedSignal<T>(outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // The SDK adds an abort listener to the request's signal and never removes it. Given the caller's
  // long-lived signal directly, a later abort would send notifications/cancelled for requests that
  // finished long ago, and the listeners would pile up. A per-request signal dies with the request.
  const inner = new AbortController();
  const forward = (): void => inner.abort(outer?.reason);
  if (outer?.aborted) inner.abort(outer.reason);
  else outer?.addEventListener('abort', forward, { once: true });
  try {
    return await fn(inner.signal);
  } finally {
    outer?.removeEventListener('abort', forward);
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the work behind `promise` goes on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, makeError?: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(makeError?.() ?? new Error(`Timed out after ${ms} ms.`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function stripMcpPrefix(message: string): string {
  return message.replace(/^MCP error -?\d+: /, '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
