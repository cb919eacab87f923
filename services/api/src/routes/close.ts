import type { Request, Response } from 'express';
import { SyncTimeoutError } from '../responses-service.ts';
import type { UpstreamFailure } from '@spool/contracts';

/**
 * Aborts `abort` when the client goes away before its answer is complete. (Not after: 'close'
 * follows every finished response too, and an abort then would build a DOMException for nothing.)
 */
export function stopOnClose(res: Response, abort: AbortController): void {
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
}

/**
 * Runs a stream apart from Express's middleware chain. A stream can stay open for hours, and while
 * the route's promise is pending the router keeps its per-request state alive through `req.next`
 * (about 2 KB per reader, measured with 2,000 idle readers): with thousands of idle readers that
 * is most of their memory. So the route returns at once, `req.next` is dropped (only
 * res.render/sendFile/download use it), and an error the stream throws after its headers went out
 * is reported to `onError`, which can only log it.
 */
export function handOff(req: Request, stream: Promise<unknown>, onError: (err: unknown) => void): void {
  (req as { next?: unknown }).next = undefined;
  stream.catch(onError);
}

/**
 * For a synchronous wait's `.catch`: a SyncTimeoutError goes out with `x-should-retry: false`, so
 * the SDKs do not retry the 504 (that would run the same long work again, to the same end).
 */
export function noRetryOnTimeout(res: Response): (err: unknown) => never {
  return (err) => {
    if (err instanceof SyncTimeoutError && !res.headersSent) res.setHeader('x-should-retry', 'false');
    throw err;
  };
}

/**
 * Answers a synchronous request whose upstream failed as the upstream's failure reads over HTTP
 * (responses-service `upstreamFailureOf`). The SDKs retry 429 and 5xx: not when a retry would run
 * MCP calls again, or could not help (Spool's own upstream credential was refused).
 */
export function sendUpstreamFailure(res: Response, failure: UpstreamFailure, ranMcpCalls: boolean): void {
  if (failure.retryAfter !== null) res.setHeader('retry-after', failure.retryAfter);
  if (ranMcpCalls || failure.code === 'upstream_auth_failed') res.setHeader('x-should-retry', 'false');
  res.status(failure.status).json({ error: { message: failure.message, type: failure.type, param: failure.param, code: failure.code } });
}
