import type { Response } from 'express';

/**
 * Aborts `abort` when the client goes away before its answer is complete. (Not after: 'close'
 * follows every finished response too, and an abort then would build a DOMException for nothing.)
 */
export function stopOnClose(res: Response, abort: AbortController): void {
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
}
