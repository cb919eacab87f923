import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolResultSchema, ElicitRequestSchema, ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/experimental/tasks/types.js';
import type { LookupFunction } from 'node:net';
import type { McpCallError, McpToolInfo } from '@spool/protocol';
import { abortable, withLinkedSignal, withTimeout } from './async.ts';
import { resultText } from './content.ts';
import {
  type AuthChallenge,
  ConnectTimeoutError,
  type McpCallOutcome,
  PoolError,
  classify,
  rememberChallenge,
  failedOutcome,
  httpStatusOf,
  isRecord,
  isSessionFailure,
  isStaleSocket,
  listError,
  looksLikeOtherTransport,
  networkFailureOf,
} from './failures.ts';
import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { poolKey, type McpTarget } from './target.ts';
import { TransportFactory, type TransportKind } from './transport.ts';

/*
 * The MCP session pool. How a failure is classified and reported lives in failures.ts, how a
 * transport is built (headers, the SSRF-checked fetch) in transport.ts, promise helpers in async.ts.
 */

/** One tool as OpenAI's `mcp_list_tools` item lists it, and why a call failed: the wire shapes, from protocol. */
export type { McpCallError, McpCallOutcome, McpToolInfo };

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
  /** The last authorization challenge the server sent on this session (see failures.ts). */
  readonly auth: { challenge?: AuthChallenge };
  /** Tools that may run as MCP tasks (`execution.taskSupport` optional/required), once listed on this session. */
  taskTools: Set<string> | undefined;
  /** Calls in flight on this session, told of elicitation requests (see onElicitation). */
  readonly elicitations: Set<ElicitationListener>;
}

/** A call in flight, as the session's elicitation handler sees it. */
interface ElicitationListener {
  /** Notes a question that was declined, for the call's output. */
  declined(note: string): void;
  /** Present when the call may park: resolves with the user's answer, however long that takes, or null when it declines. */
  park?: (question: ElicitationQuestion) => Promise<ElicitationReply | null>;
}

/** A server's form elicitation, as a parked call shows it to the client. */
export interface ElicitationQuestion {
  message: string;
  requestedSchema: Record<string, unknown>;
}

/** How a call that may park hears its questions (see callTool's `onElicit`). */
export type ElicitHook = (q: ElicitationQuestion, hold: () => void) => Promise<ElicitationReply | null>;

/** MCP's ElicitResult. */
export interface ElicitationReply {
  action: 'accept' | 'decline' | 'cancel';
  content?: Record<string, string | number | boolean | string[]>;
}

/** How much of a server's elicitation message is repeated to the model (a parked question keeps more: the user reads it). */
const MAX_ELICITATION_CHARS = 500;
const MAX_PARKED_MESSAGE_CHARS = 4000;
/** The SDK's own request timeout for a call that may park: effectively none; the pool's active-time timer bounds it. */
const PARKABLE_SDK_TIMEOUT_MS = 2_147_483_647;

/** A call started as an MCP task (tasks extension): what is needed to poll it from any process. */
export interface McpTaskStart {
  taskId: string;
  /** The server's suggested polling interval, if it gave one. */
  pollIntervalMs: number | undefined;
}

/** One `tasks/get` answer. */
export interface McpTaskState {
  status: 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
  statusMessage: string | undefined;
  pollIntervalMs: number | undefined;
}

type SessionResult<T> = { ok: true; value: T } | { ok: false; outcome: McpCallOutcome };

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
  readonly #transports: TransportFactory;
  readonly #sessions = new Map<string, Session>();
  readonly #connecting = new Map<string, Promise<Session>>();
  readonly #all = new Set<Session>();
  #closed = false;

  constructor(options: McpClientPoolOptions = {}) {
    this.#clientInfo = options.clientInfo ?? { name: 'spool-mcp-executor', version: '0.1.0' };
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#transports = new TransportFactory({ guardedLookup: options.guardedLookup, onStderr: options.onStderr });
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
    opts: {
      signal?: AbortSignal;
      onProgress?: (p: McpProgress) => void;
      meta?: Record<string, string>;
      /**
       * The call may be parked on a form elicitation: called with the server's question when it is
       * this call's (the only call on its session). It calls `hold()` once it parks the call (the
       * session is then this call's alone, and the timeout pauses) and resolves with the user's
       * answer, or null to decline. Without it, questions are declined and noted in the output.
       */
      onElicit?: ElicitHook;
    } = {},
  ): Promise<McpCallOutcome> {
    if (opts.signal?.aborted) return failedOutcome(t, { kind: 'cancelled' });
    let session: Session;
    try {
      ({ session } = await this.#acquire(t, opts.signal));
    } catch (error) {
      return failedOutcome(t, classify(error, opts.signal, undefined));
    }
    const { onProgress, onElicit } = opts;
    const notes: string[] = [];
    // A call that may park waits for a user for minutes: its timeout counts only the time the tool
    // works (restarted by progress, paused while a question is open), not the SDK's wall clock.
    const active = onElicit ? new ActiveTimer(t.timeoutMs) : null;
    const listener: ElicitationListener = {
      declined: (note) => void notes.push(note),
      ...(onElicit
        ? {
            park: async (q: ElicitationQuestion) => {
              let held = false;
              const hold = (): void => {
                // From now on the session belongs to this call: new calls get a fresh session, so a
                // later question on this one can only be this call's.
                held = true;
                this.#retire(session);
                active?.pause();
              };
              try {
                return await onElicit(q, hold);
              } finally {
                if (held) active?.restart();
              }
            },
          }
        : {}),
    };
    session.elicitations.add(listener);
    try {
      const result = await withLinkedSignal(opts.signal, (signal) => {
        const inner = active ? active.link(signal) : signal;
        // `_meta` carries the W3C trace context (`traceparent`) to the server, as MCP tracing expects.
        return session.client.callTool({ name, arguments: args, ...(opts.meta && Object.keys(opts.meta).length > 0 ? { _meta: opts.meta } : {}) }, undefined, {
          signal: inner,
          timeout: active ? PARKABLE_SDK_TIMEOUT_MS : t.timeoutMs,
          resetTimeoutOnProgress: true,
          ...(onProgress || active
            ? {
                onprogress: (p: { progress: number; total?: number | undefined; message?: string | undefined }) => {
                  active?.restart();
                  if (onProgress) reportProgress(onProgress, p);
                },
              }
            : {}),
        });
      });
      const outcome = toOutcome(name, result);
      if (!outcome.ok || notes.length === 0) return outcome;
      // The model learns that the tool wanted to ask the user something and was told no.
      return { ok: true, output: [outcome.output, ...notes].filter((x) => x !== '').join('\n') };
    } catch (error) {
      const failure = classify(error, opts.signal, session);
      if (isSessionFailure(failure)) this.#retire(session);
      return failedOutcome(t, failure);
    } finally {
      active?.stop();
      session.elicitations.delete(listener);
      this.#release(session);
    }
  }

  /**
   * Starts a call as an MCP task when the server declares task-augmented `tools/call` and the tool's
   * `execution.taskSupport` is optional or required; null when they do not (the caller then uses
   * callTool). The task outlives this session and this process: poll it with `taskState`.
   */
  async startTask(t: McpTarget, name: string, args: Record<string, unknown>, opts: { signal?: AbortSignal; ttlMs: number }): Promise<SessionResult<McpTaskStart | null>> {
    return this.#onSession(t, opts.signal, async (session, signal) => {
      if (!session.client.getServerCapabilities()?.tasks?.requests?.tools?.call) return null;
      if (session.taskTools === undefined) await this.#listAllPages(session, t, signal);
      if (!session.taskTools?.has(name)) return null;
      const created = await session.client.request({ method: 'tools/call', params: { name, arguments: args } }, CreateTaskResultSchema, {
        signal,
        timeout: t.timeoutMs,
        task: { ttl: opts.ttlMs },
      });
      return { taskId: created.task.taskId, pollIntervalMs: created.task.pollInterval };
    });
  }

  /** One `tasks/get`. */
  async taskState(t: McpTarget, taskId: string, opts: { signal?: AbortSignal } = {}): Promise<SessionResult<McpTaskState>> {
    return this.#onSession(t, opts.signal, async (session, signal) => {
      const task = await session.client.experimental.tasks.getTask(taskId, { signal, timeout: t.timeoutMs });
      return { status: task.status, statusMessage: task.statusMessage, pollIntervalMs: task.pollInterval };
    });
  }

  /** `tasks/result` of a finished task, as a call outcome (the same form as callTool's). */
  async taskResult(t: McpTarget, name: string, taskId: string, opts: { signal?: AbortSignal } = {}): Promise<McpCallOutcome> {
    const r = await this.#onSession(t, opts.signal, async (session, signal) =>
      toOutcome(name, await session.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, { signal, timeout: t.timeoutMs })),
    );
    return r.ok ? r.value : r.outcome;
  }

  /** `tasks/cancel`, best effort: a server that has finished or forgotten the task has nothing to stop. */
  async cancelTask(t: McpTarget, taskId: string): Promise<void> {
    await this.#onSession(t, undefined, async (session, signal) => {
      await session.client.experimental.tasks.cancelTask(taskId, { signal, timeout: Math.min(t.timeoutMs, 30_000) });
    });
  }

  /** Runs one request on a pooled session; failures come back as call outcomes, and a broken session is dropped. */
  async #onSession<T>(t: McpTarget, callerSignal: AbortSignal | undefined, op: (session: Session, signal: AbortSignal) => Promise<T>): Promise<SessionResult<T>> {
    if (callerSignal?.aborted) return { ok: false, outcome: failedOutcome(t, { kind: 'cancelled' }) };
    let session: Session;
    try {
      ({ session } = await this.#acquire(t, callerSignal));
    } catch (error) {
      return { ok: false, outcome: failedOutcome(t, classify(error, callerSignal, undefined)) };
    }
    try {
      return { ok: true, value: await withLinkedSignal(callerSignal, (signal) => op(session, signal)) };
    } catch (error) {
      const failure = classify(error, callerSignal, session);
      if (isSessionFailure(failure)) this.#retire(session);
      return { ok: false, outcome: failedOutcome(t, failure) };
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
    await this.#transports.close();
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
    const auth: Session['auth'] = {};
    const transport = this.#transports.make(t, kind, (c) => (auth.challenge = c));
    // Form elicitation is declared: a call that can park (onElicit) gets the user's answer, others
    // a clean "decline" the tool can handle, instead of a tool failing on a client without the
    // capability; see onElicitation. URL mode is not declared (nobody could open the URL mid-call).
    const client = new Client(this.#clientInfo, { capabilities: { elicitation: { form: {} } } });
    const session: Session = {
      auth,
      taskTools: undefined,
      elicitations: new Set(),
      key,
      client,
      transport,
      inflight: 0,
      retired: false,
      closed: false,
      idleTimer: undefined,
      disposing: undefined,
    };
    client.setRequestHandler(ElicitRequestSchema, async (request) => ({ ...(await onElicitation(session, request.params)) }));
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
      await withTimeout(client.connect(transport, { timeout: this.#connectTimeoutMs }), this.#connectTimeoutMs, () => new ConnectTimeoutError(this.#connectTimeoutMs));
    } catch (error) {
      // Client.connect does not close a transport whose start() failed; an SSE transport would
      // otherwise keep reconnecting its EventSource forever.
      session.closed = true;
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      rememberChallenge(error, auth.challenge);
      throw error;
    }
    connected = true;
    this.#all.add(session);
    return session;
  }

  async #listAllPages(session: Session, t: McpTarget, signal: AbortSignal | undefined): Promise<McpToolInfo[]> {
    const tools: McpToolInfo[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const result = await withLinkedSignal(signal, (s) => session.client.listTools(cursor === undefined ? undefined : { cursor }, { signal: s, timeout: t.timeoutMs }));
      tools.push(...result.tools.map(toToolInfo));
      session.taskTools ??= new Set();
      for (const tool of result.tools) {
        if (tool.execution?.taskSupport === 'optional' || tool.execution?.taskSupport === 'required') session.taskTools.add(tool.name);
      }
      cursor = result.nextCursor;
      if (cursor === undefined) return tools;
      if (seen.has(cursor)) throw new PoolError('The MCP server repeated a tools/list cursor.');
      seen.add(cursor);
    }
    throw new PoolError(`The MCP server returned more than ${MAX_TOOL_PAGES} pages of tools.`);
  }
}

// --- failures --------------------------------------------------------------------------------------

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
 * A server's elicitation request during a call. The request does not say which call it belongs to,
 * so it is attributed only when one call is in flight on the session: a call that can park
 * (`onElicit`) then waits for the user's answer. Otherwise (several calls, a call that cannot park,
 * URL mode) Spool declines (`action: "decline"`, which the tool can handle) and the calls in flight
 * note it in their output, so the model knows what was asked.
 */
async function onElicitation(session: Session, params: { mode?: unknown; message?: unknown; requestedSchema?: unknown; url?: unknown }): Promise<ElicitationReply> {
  const text = typeof params.message === 'string' ? params.message.replace(/[\r\n]+/g, ' ') : '';
  const short = text.slice(0, MAX_ELICITATION_CHARS);
  const listeners = [...session.elicitations];
  const decline = (why: string): ElicitationReply => {
    for (const l of listeners) l.declined(`[elicitation declined] The tool asked the user: "${short}". ${why}`);
    return { action: 'decline' };
  };
  if (params.mode === 'url' || typeof params.url === 'string') return decline('It asked for URL-mode elicitation, which Spool does not support, so it declined.');
  const only = listeners.length === 1 ? listeners[0] : undefined;
  if (!only?.park) {
    return decline(
      listeners.length > 1
        ? 'Several calls were running on the same MCP session, so Spool could not tell which one asked, and declined.'
        : 'Spool cannot ask the user during this call (a Chat Completions or store: false response cannot be resumed), so it declined.',
    );
  }
  const schema = typeof params.requestedSchema === 'object' && params.requestedSchema !== null ? (params.requestedSchema as Record<string, unknown>) : { type: 'object', properties: {} };
  const reply = await only.park({ message: text.slice(0, MAX_PARKED_MESSAGE_CHARS), requestedSchema: schema });
  return reply ?? decline('Spool cannot ask the user during this call (a Chat Completions or store: false response cannot be resumed), so it declined.');
}

/**
 * The timeout of a call that may park: `ms` of the tool's own time, restarted by progress and
 * paused while a question waits for the user. Firing aborts the call as an SDK timeout would
 * (a RequestTimeout McpError, so it is reported as a timeout).
 */
class ActiveTimer {
  readonly #ctl = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  constructor(private readonly ms: number) {
    this.restart();
  }
  link(outer: AbortSignal): AbortSignal {
    return AbortSignal.any([outer, this.#ctl.signal]);
  }
  restart(): void {
    this.#paused = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (!this.#paused) this.#ctl.abort(new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: this.ms }));
    }, this.ms);
  }
  pause(): void {
    this.#paused = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
  stop(): void {
    this.pause();
  }
}

function toOutcome(name: string, result: { [key: string]: unknown }): McpCallOutcome {
  const content: unknown[] = Array.isArray(result.content) ? result.content : [];
  if (result.isError === true) {
    return {
      ok: false,
      error: { type: 'mcp_tool_execution_error', content },
      message: resultText(content, undefined) || `Tool '${name}' failed without a message.`,
    };
  }
  return { ok: true, output: resultText(content, result.structuredContent) };
}

function reportProgress(onProgress: (p: McpProgress) => void, p: { progress: number; total?: number | undefined; message?: string | undefined }): void {
  const progress: McpProgress = { progress: p.progress };
  if (p.total !== undefined) progress.total = p.total;
  if (p.message !== undefined) progress.message = p.message;
  try {
    onProgress(progress);
  } catch {
    // A failing observer must not break the call it observes.
  }
}
