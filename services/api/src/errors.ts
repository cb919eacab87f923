import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '@spool/protocol';
import { redisOutage } from '@spool/redis';
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
  const outage = redisOutage(err);
  if (outage) return new StorageUnavailableError(outage.reason, outage.retryAfterSeconds, { cause: err });
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
