import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '@spool/protocol';
import type { Logger } from '@spool/runtime';

/** Redis unreachable shows as these: the API answers 503 and recovers when Redis is back. */
function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    /Stream isn't writeable|Connection is closed|ECONNREFUSED|enableOfflineQueue|Redis not ready|MaxRetriesPerRequest|LOADING/.test(err.message) ||
    err.name === 'MaxRetriesPerRequestError'
  );
}

/** Maps anything thrown in a route to the OpenAI error body. Internals never reach the client. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  if (e?.type === 'entity.parse.failed') return ApiError.badRequest(`We could not parse the JSON body of your request: ${e.message ?? ''}`.trim(), null, 'invalid_json');
  if (e?.type === 'entity.too.large') return new ApiError(413, 'The request body is too large.', 'invalid_request_error', 'request_too_large');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return ApiError.badRequest(e.message ?? 'Unsupported encoding.', null, 'invalid_encoding');
  if (isRedisUnavailable(err)) return new ApiError(503, 'The service is temporarily unavailable (storage unreachable). Retry shortly.', 'service_unavailable', 'service_unavailable');
  return new ApiError(500, 'The server had an error while processing your request.', 'server_error', 'server_error');
}

export function errorMiddleware(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) logger.error({ err, path: req.path, requestId: res.getHeader('x-request-id') }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(apiError.status).json(apiError.toBody());
  };
}
