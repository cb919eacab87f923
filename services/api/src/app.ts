import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Logger } from '@spool/runtime';
import { authenticate } from './auth.ts';
import { errorMiddleware } from './errors.ts';
import type { ResponsesService } from './responses-service.ts';
import { responsesRouter } from './routes/responses.ts';
import type { SseWriter } from './sse.ts';
import { chatCompletionsRouter } from './routes/chat-completions.ts';
import { ApiError, assertDepthWithin } from '@spool/protocol';
import { browserGuard, isJsonMediaType, requireJsonBody } from './browser.ts';
import type { ModelCatalog } from './models.ts';
import { modelsRouter } from './routes/models.ts';
import type { ConversationsService } from './conversations-service.ts';
import { conversationsRouter } from './routes/conversations.ts';
import { compactRouter } from './routes/compact.ts';

export interface AppDeps {
  responses: ResponsesService;
  logger: Logger;
  apiKeys: string[];
  allowUnauthenticated: boolean;
  maxBodyBytes: number;
  keepaliveMs: number;
  /** Unsent bytes a stream may hold before its reader is dropped. */
  maxBufferedBytes?: number;
  /** Open SSE streams (shared with the shutdown). */
  streams?: Set<SseWriter>;
  /** Origins whose pages get CORS headers (`*`: any); none by default. */
  corsAllowOrigins?: readonly string[];
  /** JSON nesting limit of a request body. */
  maxJsonDepth?: number;
  /** Readiness: Redis reachable and the roles of this process started. */
  ready: () => Promise<boolean>;
  /** `GET /v1/models`; absent: the route is not served. */
  models?: ModelCatalog;
  /** The Conversations API (`/v1/conversations`); absent: not served. */
  conversations?: ConversationsService;
  /** `/metrics`, `/console`, `/v1/usage` (routes/operate.ts), with their own authentication. */
  operateRouter?: express.Router;
}

/** Builds the HTTP app; does not listen. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    res.setHeader('x-request-id', req.header('x-request-id') ?? `req_${randomUUID().replace(/-/g, '')}`);
    next();
  });
  app.use(browserGuard({ allowOrigins: deps.corsAllowOrigins ?? [], keyless: deps.apiKeys.length === 0, allowUnauthenticated: deps.allowUnauthenticated }));

  app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
  app.get('/readyz', async (_req, res) => {
    const ok = await deps.ready().catch(() => false);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not_ready' });
  });

  if (deps.operateRouter) app.use(deps.operateRouter);

  const v1 = express.Router();
  v1.use(authenticate(deps.apiKeys, deps.allowUnauthenticated));
  // An empty body is fine (the SDK's cancel sends none); a body must otherwise be JSON, say so,
  // and nest no deeper than the limit (checked before any schema or clone walks it).
  v1.use(requireJsonBody);
  v1.use(express.json({ limit: deps.maxBodyBytes, type: (req) => isJsonMediaType(req.headers['content-type'] ?? '') }));
  v1.use((req, _res, next) => {
    if (req.body !== undefined) assertDepthWithin(req.body, deps.maxJsonDepth ?? 64);
    next();
  });
  const streamOptions = {
    keepaliveMs: deps.keepaliveMs,
    maxBufferedBytes: deps.maxBufferedBytes ?? 8 * 1024 * 1024,
    ...(deps.streams ? { streams: deps.streams } : {}),
  };
  v1.use(
    responsesRouter(deps.responses, {
      ...streamOptions,
      onStreamError: (err, req) => deps.logger.error({ err, path: req.path, requestId: req.res?.getHeader('x-request-id') }, 'stream failed'),
    }),
  );
  // The same stream options for both: one buffer bound (sse_max_buffered_bytes), one shutdown registry.
  v1.use(chatCompletionsRouter(deps.responses, streamOptions));
  if (deps.models) v1.use(modelsRouter(deps.models));
  if (deps.conversations) v1.use(conversationsRouter(deps.conversations));
  v1.use(compactRouter(deps.responses));
  v1.use((req, _res, next) => next(new ApiError(404, `Unknown request URL: ${req.method} ${req.originalUrl}.`, 'invalid_request_error', 'unknown_url')));
  app.use('/v1', v1);
  // LiteLLM serves every route with and without `/v1`, and its guide's clients use the bare base URL.
  app.use(v1);
  app.use((req, _res, next) => next(new ApiError(404, `Unknown request URL: ${req.method} ${req.originalUrl}.`, 'invalid_request_error', 'unknown_url')));
  app.use(errorMiddleware(deps.logger));
  return app;
}
