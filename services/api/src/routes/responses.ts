import { Router, type Request } from 'express';
import { ApiError, parseCreateRequest, type Response } from '@spool/protocol';
import { parseInputItemsQuery } from '../input-items.ts';
import type { ResponsesService, Watch } from '../responses-service.ts';
import { handOff, stopOnClose } from './close.ts';
import { SseWriter } from '../sse.ts';

export interface ResponsesRouteOptions {
  keepaliveMs: number;
  maxBufferedBytes: number;
  /** Open streams, so a shutdown can end them. */
  streams?: Set<SseWriter>;
  /** Told of an error a stream met after its headers were sent (it can only be logged). */
  onStreamError?: (err: unknown, req: Request) => void;
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

  const streamTo = async (res: import('express').Response, id: string, after: number, subscription: Watch | null = null) => {
    const abort = new AbortController();
    const sse = new SseWriter(res, {
      keepaliveMs: opts.keepaliveMs,
      maxBufferedBytes: opts.maxBufferedBytes,
      onOverflow: () => abort.abort(),
      ...(opts.streams ? { registry: opts.streams } : {}),
    });
    // The connection never owns the work: closing it stops this reader, nothing else.
    stopOnClose(res, abort);
    sse.open();
    try {
      const outcome = await service.follow(id, after, (e) => sse.event(e.type, e.json), abort.signal, subscription);
      if (outcome !== 'aborted') sse.done();
    } catch (err) {
      // Headers are sent: the best we can do is end the stream; the client resumes from its cursor.
      sse.end();
      throw err;
    }
  };

  router.post('/responses', async (req, res) => {
    const request = parseCreateRequest(req.body);
    const watch = request.stream === true || !request.background;
    const created = await service.create(request, req.owner as string, { watch });
    if (created.headers) res.set(created.headers);
    if (request.stream) return handOff(req, streamTo(res, created.id, -1, created.subscription), (err) => opts.onStreamError?.(err, req));
    if (request.background) return res.json(created.response);
    const abort = new AbortController();
    stopOnClose(res, abort);
    const final = await service.waitForFinal(created.id, abort.signal, created.subscription);
    if (!final || res.writableEnded || res.destroyed) return;
    if (final.type !== 'response.completed' && final.type !== 'response.incomplete') {
      // As the OpenAI API does, a tool list that could not be fetched fails a synchronous request with 424.
      const response = JSON.parse(final.json) as Response;
      const listFailure = response.status === 'failed' ? response.output.find((i) => i.type === 'mcp_list_tools' && i.error) : undefined;
      if (listFailure?.type === 'mcp_list_tools') {
        return res.status(424).json({ error: { message: listFailure.error, type: 'external_connector_error', param: 'tools', code: 'http_error' } });
      }
    }
    // The final Response as the log holds it: sent as it is, not parsed and serialised again.
    res.type('application/json').send(final.json);
  });

  router.get('/responses/:id', async (req, res) => {
    const id = req.params.id as string;
    const record = await service.getVisible(id, req.owner as string);
    if (queryFlag(req, 'stream')) return handOff(req, streamTo(res, record.id, parseStartingAfter(req)), (err) => opts.onStreamError?.(err, req));
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
