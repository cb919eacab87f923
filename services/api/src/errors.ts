import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '@spool/protocol';
import type { Logger } from '@spool/runtime';
import { ApiErrorWithHeaders } from './admission.ts';

/**
 * Storage is away or refusing writes: a 503 with `Retry-After`, so the SDKs retry by themselves
 * (they honour the header) and the client learns it is not its own mistake.
 */
class StorageUnavailableError extends ApiError {
  constructor(
    readonly reason: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(503, `The service is temporarily unavailable (storage ${reason}). Retry shortly.`, 'service_unavailable', 'service_unavailable', null, options);
  }
}

/**
 * Redis error replies that mean "not now" rather than "your request is wrong", by their first word
 * (ioredis passes the server's reply through as `ReplyError.message`): out of memory under
 * `noeviction`, a replica or a failing-over master, a server still loading its data, a cluster
 * that lost a shard or is moving a slot.
 */
const UNAVAILABLE_REPLIES: Record<string, string> = {
  OOM: 'is full',
  READONLY: 'is read-only',
  LOADING: 'is loading its data',
  MASTERDOWN: 'lost its master',
  CLUSTERDOWN: 'cluster is down',
  TRYAGAIN: 'is moving data',
  NOREPLICAS: 'has too few replicas',
  BUSY: 'is busy running a script',
};

/** Connection-level failures of ioredis (no reply at all), by message. */
const CONNECTION_FAILURE = /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|enableOfflineQueue|Redis not ready|Reached the max retries per request/;

/** Why storage cannot serve this now, or null when the error is something else. */
function storageOutage(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  if (err.name === 'ReplyError' || err.name === 'Error' || err.name === 'MaxRetriesPerRequestError') {
    const word = /^([A-Z]+)\b/.exec(err.message)?.[1];
    const reason = word ? UNAVAILABLE_REPLIES[word] : undefined;
    if (reason) return reason;
  }
  if (err.name === 'MaxRetriesPerRequestError' || CONNECTION_FAILURE.test(err.message)) return 'is unreachable';
  // A pipeline or MULTI reports the first failed command's error through `previousErrors`.
  const previous = (err as { previousErrors?: unknown[] }).previousErrors;
  if (Array.isArray(previous)) for (const p of previous) {
    const reason = storageOutage(p);
    if (reason) return reason;
  }
  return null;
}

/** Maps anything thrown in a route to the OpenAI error body. Internals never reach the client. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  if (e?.type === 'entity.parse.failed') return ApiError.badRequest(`We could not parse the JSON body of your request: ${e.message ?? ''}`.trim(), null, 'invalid_json');
  if (e?.type === 'entity.too.large') return new ApiError(413, 'The request body is too large.', 'invalid_request_error', 'request_too_large');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return ApiError.badRequest(e.message ?? 'Unsupported encoding.', null, 'invalid_encoding');
  // The router's own refusal: a path parameter that is not valid percent-encoding (`%zz`, a cut
  // or overlong UTF-8 sequence, a lone surrogate) is a URIError (marked 400 by the router).
  if (err instanceof URIError) return ApiError.badRequest('The request URL is not valid percent-encoded UTF-8.', null, 'invalid_url');
  // Other refusals of the body parser (a client that hung up mid-body, a body that is not what its
  // headers say) carry a 4xx `status`: a 400 that says so, not a 500 and not "bad URL".
  if (err instanceof Error && typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return ApiError.badRequest(`The request body could not be read: ${e.message ?? 'invalid body'}.`, null, 'invalid_body');
  }
  const outage = storageOutage(err);
  if (outage) return new StorageUnavailableError(outage, outage === 'is full' ? 30 : 2, { cause: err });
  return new ApiError(500, 'The server had an error while processing your request.', 'server_error', 'server_error');
}

export function errorMiddleware(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const apiError = toApiError(err);
    // The logger's error serializer keeps only name, message, code and stack: a Redis error's
    // command arguments (which hold prompts) never reach the log.
    if (apiError.status >= 500) logger.error({ err, path: req.path, requestId: res.getHeader('x-request-id') }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (apiError instanceof StorageUnavailableError) res.setHeader('Retry-After', String(apiError.retryAfterSeconds));
    if (apiError instanceof ApiErrorWithHeaders) res.set(apiError.headers);
    res.status(apiError.status).json(apiError.toBody());
  };
}
