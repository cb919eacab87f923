import { Router, type Request } from 'express';
import { ApiError, parseCreateRequest } from '@spool/protocol';
import { parseInputItemsQuery } from '../input-items.ts';
import type { ResponsesService } from '../responses-service.ts';
import { SseWriter } from '../sse.ts';

export interface ResponsesRouteOptions {
  keepaliveMs: number;
  maxBufferedBytes: number;
  /** Open streams, so a shutdown can end them. */
  streams?: Set<SseWriter>;
}

function parseStartingAfter(req: Request): number {
  const raw = req.query.starting_after;
  if (raw === undefined) return -1;
  const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < -1) throw ApiError.badRequest("Invalid value for 'starting_after': expected an integer sequence number.", 'starting_after');
  return n;
}

function queryFlag(req: Request, name: string): boolean {
  const v = req.query[name];
  return v === 'true' || v === '1';
}

/** Routes parse, call the service, format. No Redis, no BullMQ here. */
export function responsesRouter(service: ResponsesService, opts: ResponsesRouteOptions): Router {
  const router = Router();

  const streamTo = async (req: Request, res: import('express').Response, id: string, after: number) => {
    const abort = new AbortController();
    const sse = new SseWriter(res, {
      keepaliveMs: opts.keepaliveMs,
      maxBufferedBytes: opts.maxBufferedBytes,
      onOverflow: () => abort.abort(),
      ...(opts.streams ? { registry: opts.streams } : {}),
    });
    // The connection never owns the work: closing it stops this reader, nothing else.
    res.on('close', () => abort.abort());
    sse.open();
    try {
      const outcome = await service.follow(id, after, (e) => sse.event(e.type, e.json), abort.signal);
      if (outcome !== 'aborted') sse.done();
    } catch (err) {
      // Headers are sent: the best we can do is end the stream; the client resumes from its cursor.
      sse.end();
      throw err;
    }
  };

  router.post('/responses', async (req, res) => {
    const request = parseCreateRequest(req.body);
    const created = await service.create(request, req.owner as string);
    if (request.stream) return streamTo(req, res, created.id, -1);
    if (request.background) return res.json(created.response);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const final = await service.waitForFinal(created.id, abort.signal);
    if (res.writableEnded || res.destroyed) return;
    // As the OpenAI API does, a tool list that could not be fetched fails a synchronous request with 424.
    const listFailure = final.status === 'failed' ? final.output.find((i) => i.type === 'mcp_list_tools' && i.error) : undefined;
    if (listFailure?.type === 'mcp_list_tools') {
      return res.status(424).json({ error: { message: listFailure.error, type: 'external_connector_error', param: 'tools', code: 'http_error' } });
    }
    res.json(final);
  });

  router.get('/responses/:id', async (req, res) => {
    const id = req.params.id as string;
    const record = await service.getVisible(id, req.owner as string);
    if (queryFlag(req, 'stream')) return streamTo(req, res, record.id, parseStartingAfter(req));
    res.json(record.snapshot);
  });

  // The SDK sends no body here; app.ts accepts an empty body on every route.
  router.post('/responses/:id/cancel', async (req, res) => {
    res.json(await service.cancel(req.params.id as string, req.owner as string));
  });

  router.delete('/responses/:id', async (req, res) => {
    res.json(await service.delete(req.params.id as string, req.owner as string));
  });

  router.get('/responses/:id/input_items', async (req, res) => {
    const query = parseInputItemsQuery(req.query as Record<string, unknown>);
    res.json(await service.listInputItems(req.params.id as string, req.owner as string, query));
  });

  return router;
}
