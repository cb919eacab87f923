import { Router } from 'express';
import { parseCompactRequest } from '@spool/protocol';
import type { ResponsesService } from '../responses-service.ts';
import { stopOnClose } from './close.ts';

/** `POST /responses/compact` (relative, so it serves under `/v1` and at the root alike). */
export function compactRouter(service: ResponsesService): Router {
  const router = Router();
  router.post('/responses/compact', async (req, res) => {
    const request = parseCompactRequest(req.body);
    const abort = new AbortController();
    stopOnClose(res, abort);
    const compacted = await service.compact(request, req.owner as string, abort.signal);
    if (compacted && !res.writableEnded && !res.destroyed) res.json(compacted);
  });
  return router;
}
