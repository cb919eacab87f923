import { SSEClientTransport, type SSEClientTransportOptions } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { LookupFunction } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { PoolError, toChallenge, type AuthChallenge } from './failures.ts';
import type { McpTarget } from './target.ts';

export type TransportKind = 'streamable-http' | 'sse' | 'stdio';

/** Headers the transport itself owns: a caller-supplied copy would break the session or the framing. */
const RESERVED_HEADERS = new Set(['mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'content-type', 'content-length', 'accept', 'host', 'connection', 'transfer-encoding']);

/**
 * Builds the SDK transport for a target: stdio, Streamable HTTP or HTTP+SSE, with the target's
 * headers (minus the ones the transport owns) and, for guarded targets, a fetch whose sockets
 * resolve names through the SSRF-checked lookup.
 */
export class TransportFactory {
  readonly #onStderr: ((label: string, text: string) => void) | undefined;
  /** One connection pool for every guarded target, its DNS lookup checked (see McpClientPoolOptions). */
  readonly #guardedAgent: Agent | null;
  /**
   * The POSTs (requests and their SSE answer streams) go through agents without undici's 300 s
   * body timeout: a call's stream may rightly stay silent longer (a tool that reports no progress,
   * or a call parked on a question while the user thinks), and every request is bounded by its own
   * timeout anyway (the SDK's, or the pool's active-time timer). GETs keep the default.
   */
  readonly #postAgent = new Agent({ bodyTimeout: 0 });
  readonly #guardedPostAgent: Agent | null;

  constructor(options: { guardedLookup?: LookupFunction | undefined; onStderr?: ((label: string, text: string) => void) | undefined }) {
    this.#onStderr = options.onStderr;
    this.#guardedAgent = options.guardedLookup ? new Agent({ connect: { lookup: options.guardedLookup } }) : null;
    this.#guardedPostAgent = options.guardedLookup ? new Agent({ connect: { lookup: options.guardedLookup }, bodyTimeout: 0 }) : null;
  }

  /** `onChallenge` hears the `WWW-Authenticate: Bearer` challenge of every 401/403 the server answers. */
  make(t: McpTarget, kind: TransportKind, onChallenge?: (c: AuthChallenge) => void): Transport {
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
    const fetchFn = onChallenge ? observeChallenges(this.#fetchFor(t), onChallenge) : this.#fetchFor(t);
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

  /** The fetch for a target: through the checked lookup when the target is guarded. */
  #fetchFor(t: Extract<McpTarget, { kind: 'http' }>): typeof fetch {
    if (t.guarded && (!this.#guardedAgent || !this.#guardedPostAgent)) throw new PoolError('A request server_url needs the guarded lookup, and this pool has none.');
    const get = t.guarded ? this.#guardedAgent : null;
    const post = t.guarded ? this.#guardedPostAgent : this.#postAgent;
    return ((input: string | URL | Request, init?: RequestInit) => {
      const dispatcher = (init?.method ?? 'GET').toUpperCase() === 'POST' ? post : get;
      if (!dispatcher) return fetch(input, init);
      return undiciFetch(input as never, { ...(init as object), dispatcher } as never);
    }) as unknown as typeof fetch;
  }

  async close(): Promise<void> {
    await Promise.all([this.#guardedAgent, this.#guardedPostAgent, this.#postAgent].map((a) => a?.close().catch(() => undefined)));
  }
}

/**
 * The SDK's transports turn a 401 into an error carrying only the status (without an auth provider);
 * the challenge that says where to get a token is read here, as the response passes.
 */
function observeChallenges(fetchFn: typeof fetch, onChallenge: (c: AuthChallenge) => void): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await fetchFn(input, init);
    if (res.status === 401 || res.status === 403) {
      const challenge = toChallenge(res.headers.get('www-authenticate'), extractWWWAuthenticateParams(res));
      if (challenge) onChallenge(challenge);
    }
    return res;
  }) as typeof fetch;
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
