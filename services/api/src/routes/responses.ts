import { Router, type Request } from 'express';
import { ApiError, ConnectorError, parseCreateRequest, type Response } from '@spool/protocol';
import { parseInputItemsQuery } from '../input-items.ts';
import type { ResponsesService, Watch } from '../responses-service.ts';
import { handOff, noRetryOnTimeout, sendUpstreamFailure, stopOnClose } from './close.ts';
import { ranMcpCalls } from '../chat/completion.ts';
import { streamResponse, type StreamOptions } from './stream.ts';

export interface ResponsesRouteOptions extends StreamOptions {
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

  const streamTo = (res: import('express').Response, id: string, after: number, subscription: Watch | null = null) =>
    streamResponse(res, service, opts, { responseId: id, after, subscription, onEvent: (e, sse) => sse.event(e.type, e.json) });

  router.post('/responses', async (req, res) => {
    const request = parseCreateRequest(req.body);
    const watch = request.stream === true || !request.background;
    const created = await service.create(request, req.owner as string, { watch });
    if (created.headers) res.set(created.headers);
    if (request.stream) return handOff(req, streamTo(res, created.id, -1, created.subscription), (err) => opts.onStreamError?.(err, req));
    if (request.background) return res.json(created.response);
    const abort = new AbortController();
    stopOnClose(res, abort);
    const final = await service.waitForFinal(created.id, abort.signal, created.subscription).catch(noRetryOnTimeout(res));
    if (!final || res.writableEnded || res.destroyed) return;
    if (final.type !== 'response.completed' && final.type !== 'response.incomplete') {
      const response = JSON.parse(final.json) as Response;
      // As the OpenAI API does, a tool list that could not be fetched fails a synchronous request with 424.
      const connector = ConnectorError.ofResponse(response);
      if (connector) throw connector;
      // An upstream's 400 is the client's own mistake: it gets the 400, not a 200 with server_error.
      const upstream = response.status === 'failed' ? await service.upstreamFailureOf(created.id) : null;
      if (upstream && !res.writableEnded) return sendUpstreamFailure(res, upstream, ranMcpCalls(response));
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
