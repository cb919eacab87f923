import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { STATUS_CODES } from 'node:http';
import { assertNever } from '@spool/protocol';
import { McpServerError, describeStatus } from './errors.ts';
import type { McpCallError } from '@spool/protocol';
import { ADDRESS_NOT_ALLOWED } from './ssrf.ts';
import type { McpTarget } from './target.ts';

/**
 * What one tool call came to. A failed call is a value, not an exception: the response goes on and
 * the model is told (OpenAI's `mcp_call` with `status: "failed"`). `message` is a one-line summary
 * for the model and the logs; it never contains header values or a server's HTTP response body.
 */
export type McpCallOutcome = { ok: true; output: string } | { ok: false; error: McpCallError; message: string };

/*
 * What went wrong talking to an MCP server, classified once (`classify`) from whatever the SDK, the
 * transport or the network threw, and then said the way each operation reports it: a thrown
 * `McpServerError` for a listing (`listError`), a failed outcome for a call (`failedOutcome`).
 */

/** An error of ours whose message is safe to show (no header values, no server response body). */
export class PoolError extends Error {
  override readonly name = 'PoolError';
}

export class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`Timed out connecting after ${timeoutMs} ms.`);
  }
}

/**
 * What a 401/403 said about how to authorize (its `WWW-Authenticate: Bearer` challenge, RFC 9728):
 * where the server's OAuth protected-resource metadata is, and the scope it wants. Only values safe
 * to show are kept (an http(s) URL, a printable scope).
 */
export interface AuthChallenge {
  resourceMetadataUrl?: string;
  scope?: string;
}

/**
 * Challenges seen on the way to an error, keyed by the error object: the SDK's transport errors
 * carry only the status, and the header is read where the response passes (transport.ts).
 */
const challenges = new WeakMap<object, AuthChallenge>();

export function rememberChallenge(error: unknown, challenge: AuthChallenge | undefined): void {
  if (challenge && typeof error === 'object' && error !== null) challenges.set(error, challenge);
}

export type Failure =
  | { kind: 'http'; status: number; challenge?: AuthChallenge }
  | { kind: 'unreachable'; detail: string }
  | { kind: 'timeout'; timeoutMs: number | undefined; connecting: boolean }
  | { kind: 'cancelled' }
  | { kind: 'closed' }
  | { kind: 'protocol'; code: number; message: string }
  | { kind: 'other'; message: string };

/** The session is unusable (as opposed to one request having failed on a healthy session). */
export function isSessionFailure(f: Failure): boolean {
  return f.kind === 'http' || f.kind === 'unreachable' || f.kind === 'closed';
}

/** `session` is undefined while connecting. */
export function classify(error: unknown, callerSignal: AbortSignal | undefined, session: { readonly closed: boolean; readonly auth?: { challenge?: AuthChallenge } } | undefined): Failure {
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
  if (status !== undefined) {
    const challenge = status === 401 || status === 403 ? ((typeof error === 'object' && error !== null ? challenges.get(error) : undefined) ?? session?.auth?.challenge) : undefined;
    return challenge ? { kind: 'http', status, challenge } : { kind: 'http', status };
  }
  const network = networkFailureOf(error);
  if (network) return { kind: 'unreachable', detail: network };
  if (session?.closed) return { kind: 'closed' };
  if (error instanceof PoolError) return { kind: 'other', message: error.message };
  // Anything else may quote a header value (undici's invalid-header errors do): not shown.
  const name = error instanceof Error ? error.name : typeof error;
  return { kind: 'other', message: `Unexpected error talking to the MCP server (${name}).` };
}

/** The HTTP status behind a transport error, from each transport's own error shape. */
export function httpStatusOf(error: unknown): number | undefined {
  const valid = (code: unknown): number | undefined => (typeof code === 'number' && code >= 100 && code <= 599 ? code : undefined);
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
export function networkFailureOf(error: unknown): string | undefined {
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
export function isStaleSocket(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return true;
    current = current.cause;
  }
  return false;
}

/** Some transports fail in ways that suggest the server speaks the other HTTP transport. */
export function looksLikeOtherTransport(error: unknown): boolean {
  if (!(error instanceof StreamableHTTPError)) return false;
  // -1: a 2xx with a content type Streamable HTTP does not use.
  if (error.code === -1) return true;
  const status = httpStatusOf(error);
  // Authentication failures say nothing about the transport; an SSE attempt would only obscure them.
  return status !== undefined && status >= 400 && status < 500 && ![401, 403, 407, 408, 429].includes(status);
}

export function listError(t: McpTarget, failure: Failure, cause: unknown): McpServerError {
  const prefix = `Error retrieving tool list from MCP server: '${t.label}'.`;
  switch (failure.kind) {
    case 'http': {
      const code = failure.status === 401 || failure.status === 403 ? 'mcp_unauthorized' : 'mcp_list_failed';
      const status = `${prefix} Http status code: ${describeStatus(failure.status)}`;
      return new McpServerError(code, failure.challenge ? `${status}. ${authorizationHint(failure.challenge)}` : status, {
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
export function failedOutcome(t: McpTarget, failure: Failure): McpCallOutcome {
  const server = `MCP server '${t.label}'`;
  switch (failure.kind) {
    case 'http': {
      const status = `HTTP ${failure.status} ${STATUS_CODES[failure.status] ?? ''}`.trim();
      const text = failure.challenge ? `${status}. ${authorizationHint(failure.challenge)}` : status;
      return { ok: false, error: { type: 'http_error', code: failure.status, message: text }, message: `${server} answered ${text}${failure.challenge ? '' : '.'}` };
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

/**
 * What the user must do about a 401/403 that came with a Bearer challenge: the model and the
 * client read this, so it names the protected-resource metadata (which lists the authorization
 * servers) and the scope, and the field the token goes in.
 */
function authorizationHint(c: AuthChallenge): string {
  const where = [c.resourceMetadataUrl ? `its OAuth protected-resource metadata is at ${c.resourceMetadataUrl}` : null, c.scope ? `scope: ${c.scope}` : null].filter((x): x is string => x !== null);
  return 'Authorization required: get an OAuth access token for this MCP server' + (where.length > 0 ? ` (${where.join('; ')})` : '') + " and pass it as the mcp tool's `authorization`.";
}

/** The parts of a `WWW-Authenticate` challenge worth repeating, or undefined when it is not a Bearer one. */
export function toChallenge(header: string | null, params: { resourceMetadataUrl?: URL | undefined; scope?: string | undefined }): AuthChallenge | undefined {
  if (header === null || !/^\s*bearer\b/i.test(header)) return undefined;
  const challenge: AuthChallenge = {};
  const url = params.resourceMetadataUrl;
  if (url && (url.protocol === 'https:' || url.protocol === 'http:') && url.href.length <= 500) challenge.resourceMetadataUrl = url.href;
  if (params.scope !== undefined && /^[\x21-\x7e ]{1,200}$/.test(params.scope)) challenge.scope = params.scope;
  return challenge;
}

function protocolFailure(code: number, text: string, message: string): McpCallOutcome {
  return { ok: false, error: { type: 'mcp_protocol_error', code, message: text }, message };
}

function timeoutText(failure: Extract<Failure, { kind: 'timeout' }>, t: McpTarget): string {
  const ms = failure.timeoutMs ?? t.timeoutMs;
  return failure.connecting ? `Timed out connecting to the MCP server after ${ms} ms.` : `The request timed out after ${ms} ms without a response or progress.`;
}

function stripMcpPrefix(message: string): string {
  return message.replace(/^MCP error -?\d+: /, '');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
