import { APIError } from 'openai';
import type { UpstreamFailure } from '@spool/contracts';
import type { ResponseErrorCode } from '@spool/protocol';

/** An upstream status a client's own request caused: the synchronous answer keeps it. */
const CLIENT_STATUSES: ReadonlySet<number> = new Set([400, 404, 413, 422]);

/**
 * Maps an upstream failure to a Response `error` (what streams, background responses and polls
 * see: `invalid_prompt` for a 400, `rate_limit_exceeded` for a 429, `server_error` otherwise) and
 * to how a synchronous request answers over HTTP: the upstream's 400/404/413/422 as that status
 * with its message, a 429 with its Retry-After, a 502 for 401/403 (Spool's own credential for the
 * upstream is wrong, not the client's), 5xx and connection failures.
 */
export function upstreamFailure(err: unknown, started: boolean): { code: ResponseErrorCode; message: string; http: UpstreamFailure } {
  if (err instanceof APIError) {
    const status = err.status;
    const body = (err.error ?? {}) as { message?: unknown };
    const detail = (typeof body.message === 'string' && body.message) || err.message || 'no message';
    if (status === undefined) {
      const message = `The upstream model could not be reached${started ? ' mid-stream' : ''}: ${detail}`;
      return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_unreachable', param: null, message, retryAfter: null } };
    }
    if (status === 429) {
      const message = `The upstream model rate-limited the request: ${detail}`;
      const retryAfter = err.headers?.get('retry-after') ?? null;
      return { code: 'rate_limit_exceeded', message, http: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null, message, retryAfter } };
    }
    if (CLIENT_STATUSES.has(status)) {
      const message = `The upstream model refused the request (HTTP ${status}): ${detail}`;
      const http = { status, type: err.type ?? 'invalid_request_error', code: err.code ?? null, param: err.param ?? null, message, retryAfter: null };
      return { code: status === 400 ? 'invalid_prompt' : 'server_error', message, http };
    }
    if (status === 401 || status === 403) {
      const message = `The upstream model refused this server's credentials (HTTP ${status}); check the upstream API key in Spool's configuration: ${detail}`;
      return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_auth_failed', param: null, message, retryAfter: null } };
    }
    const message = `The upstream model failed with HTTP ${status}: ${detail}`;
    return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_error', param: null, message, retryAfter: null } };
  }
  const message = `The upstream model stream failed${started ? ' after output had started' : ''}: ${err instanceof Error ? err.message : String(err)}`;
  return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_error', param: null, message, retryAfter: null } };
}
