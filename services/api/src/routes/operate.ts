import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { ApiError } from '@spool/protocol';
import type { Metrics } from '@spool/runtime';
import { presentedKey } from '../auth.ts';
import { isJsonMediaType, requireJsonBody } from '../browser.ts';
import { CONSOLE_HTML, CONSOLE_JS } from '../console/assets.ts';
import type { OperateService } from '../operate-service.ts';
import { SseWriter } from '../sse.ts';
import { handOff, stopOnClose } from './close.ts';

export interface OperateRouteOptions {
  metrics: Metrics;
  /** Keys that may create responses (they may also scrape /metrics). */
  apiKeys: readonly string[];
  /** Keys for the console, /v1/usage and /metrics. */
  adminKeys: readonly string[];
  metricsToken: string | null;
  allowUnauthenticated: boolean;
  /** Checked when neither API nor admin keys are set: a loopback peer. */
  isLoopback?: (req: Request) => boolean;
  /** The console's data (null: this process serves /metrics only). */
  operate: OperateService | null;
  /** The bull-board queues view, mounted under /console/queues. */
  queuesUi?: RequestHandler;
  /** Signs the queues-view cookie (SecretBox.digest). */
  mac?: (text: string) => string;
  keepaliveMs: number;
  nowMs: () => number;
  onStreamError?: (err: unknown, req: Request) => void;
}

function loopbackPeer(req: Request): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

function hashes(keys: readonly string[]): Buffer[] {
  return keys.map((k) => createHash('sha256').update(k).digest());
}

function matches(list: Buffer[], key: string | null): boolean {
  if (!key) return false;
  const digest = createHash('sha256').update(key).digest();
  let found = false;
  for (const h of list) if (timingSafeEqual(h, digest)) found = true;
  return found;
}

const COOKIE = 'spool_console_queues';
const COOKIE_SECONDS = 8 * 3600;

/** Refreshes the gauges that are read at scrape time (queue depth, open streams, approvals). */
export type MetricsRefresh = () => Promise<void>;

/** `/metrics` alone, for a process without the api role (served on METRICS_PORT). */
export function metricsHandler(opts: Pick<OperateRouteOptions, 'metrics' | 'apiKeys' | 'adminKeys' | 'metricsToken' | 'allowUnauthenticated' | 'isLoopback'>, refresh: MetricsRefresh): RequestHandler {
  const allowed = hashes([...opts.apiKeys, ...opts.adminKeys, ...(opts.metricsToken ? [opts.metricsToken] : [])]);
  const keyless = opts.apiKeys.length === 0 && opts.adminKeys.length === 0;
  return async (req, res, next) => {
    try {
      if (keyless && !opts.metricsToken) {
        if (!opts.allowUnauthenticated && !(opts.isLoopback ?? loopbackPeer)(req))
          throw new ApiError(403, 'This server has no keys configured and serves /metrics to loopback clients only.', 'permission_error', 'unauthenticated_remote');
      } else if (!matches(allowed, presentedKey(req))) {
        throw new ApiError(401, 'Send an API key, an admin key or the metrics_token as Authorization: Bearer <token>.', 'invalid_request_error', 'invalid_api_key');
      }
      await refresh().catch(() => undefined);
      res.setHeader('Content-Type', opts.metrics.registry.contentType);
      res.send(await opts.metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  };
}

const DecisionSchema = z.object({ approve: z.boolean() }).strict();

/**
 * The operator's routes: `/metrics`, `/console` (page, its JSON API, the queues view) and
 * `/v1/usage` (also at `/usage`, as every route is served with and without `/v1`). Mounted on
 * the app before the `/v1` router, with its own authentication:
 * - the console's API takes an admin key as `Authorization: Bearer` (the page keeps it in
 *   sessionStorage and sends it on every call): no cookie authorises a change, so no other site
 *   can make the browser act (no CSRF);
 * - the bull-board view loads its own scripts and data, which cannot carry a header, so it takes
 *   a signed, HttpOnly, SameSite=Strict cookie scoped to its path, for GETs only (read-only mode).
 */
export function operateRouter(opts: OperateRouteOptions, refresh: MetricsRefresh): Router {
  const router = Router();
  const admins = hashes(opts.adminKeys);
  const keyless = opts.apiKeys.length === 0 && opts.adminKeys.length === 0;

  const requireAdmin = (req: Request, _res: Response, next: NextFunction) => {
    if (opts.adminKeys.length === 0) {
      if (keyless && (opts.allowUnauthenticated || (opts.isLoopback ?? loopbackPeer)(req))) return next();
      return next(
        new ApiError(
          403,
          keyless ? 'This server has no keys and serves the console to loopback clients only.' : 'No admin_keys are configured: the console and /v1/usage are off.',
          'permission_error',
          'admin_required',
        ),
      );
    }
    const key = presentedKey(req);
    if (!key) return next(new ApiError(401, 'Missing admin key. Send it as Authorization: Bearer <key>.', 'invalid_request_error', 'invalid_api_key'));
    if (!matches(admins, key)) return next(new ApiError(403, 'This key is not an admin key.', 'permission_error', 'admin_required'));
    next();
  };

  router.get('/metrics', metricsHandler(opts, refresh));

  const operate = opts.operate;
  if (!operate) return router;

  const usage: RequestHandler = async (req, res) => {
    const rawDays = req.query.days;
    const days = rawDays === undefined ? 1 : typeof rawDays === 'string' && /^\d{1,3}$/.test(rawDays) ? Number(rawDays) : NaN;
    if (!Number.isInteger(days) || days < 1 || days > 366) throw ApiError.badRequest("Invalid value for 'days': an integer from 1 to 366.", 'days');
    const keyName = req.query.key_name;
    if (keyName !== undefined && typeof keyName !== 'string') throw ApiError.badRequest("Invalid value for 'key_name'.", 'key_name');
    res.json({ object: 'list', data: await operate.usage(days, keyName ?? null) });
  };
  router.get(['/v1/usage', '/usage'], requireAdmin, usage);

  // The page and its script carry no secret: anyone may load them; the data needs the admin key.
  router.get('/console', (_req, res) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(CONSOLE_HTML);
  });
  router.get('/console/console.js', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/javascript').send(CONSOLE_JS);
  });

  const api = Router();
  api.use(requireAdmin);
  api.use(requireJsonBody);
  api.use(express.json({ limit: 16 * 1024, type: (req) => isJsonMediaType(req.headers['content-type'] ?? '') }));
  api.get('/overview', async (_req, res) => {
    const [responses, queues, approvals, elicitations, deadLetters, usageToday] = await Promise.all([
      operate.recentResponses(50),
      operate.queues(),
      operate.pendingApprovals(),
      operate.pendingElicitations(),
      operate.deadLetters(50),
      operate.usage(1, null),
    ]);
    res.json({ now: Math.floor(opts.nowMs() / 1000), responses, queues, approvals, elicitations, dead_letters: deadLetters, usage: usageToday, admission: operate.admission() });
  });
  api.get('/responses/:id', async (req, res) => {
    res.json(await operate.response(req.params.id as string));
  });
  api.get('/responses/:id/events', async (req, res) => {
    const raw = req.query.starting_after;
    const after = raw === undefined ? -1 : typeof raw === 'string' && /^-?\d{1,15}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(after) || after < -1) throw ApiError.badRequest("Invalid value for 'starting_after'.", 'starting_after');
    const id = (await operate.response(req.params.id as string)).id;
    const abort = new AbortController();
    const sse = new SseWriter(res, { keepaliveMs: opts.keepaliveMs, maxBufferedBytes: 8 * 1024 * 1024, onOverflow: () => abort.abort() });
    stopOnClose(res, abort);
    sse.open();
    const stream = operate
      .follow(id, after, (e) => sse.event(e.type, e.json), abort.signal)
      .then((outcome) => (outcome !== 'aborted' ? sse.done() : undefined))
      .catch((err: unknown) => {
        sse.end();
        throw err;
      });
    handOff(req, stream, (err) => opts.onStreamError?.(err, req));
  });
  api.post('/approvals/:responseId/:approvalId', async (req, res) => {
    const parsed = DecisionSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw ApiError.badRequest('The body must be {"approve": true|false}.', 'approve');
    res.json(await operate.decide(req.params.responseId as string, req.params.approvalId as string, parsed.data.approve));
  });
  // Opens the queues view for this browser: a cookie for GETs under /console/queues only.
  api.post('/session', (_req, res) => {
    if (!opts.mac) throw new ApiError(404, 'The queues view is not served here.', 'invalid_request_error', 'unknown_url');
    const expires = Math.floor(opts.nowMs() / 1000) + COOKIE_SECONDS;
    res.cookie(COOKIE, `${expires}.${opts.mac(`console-queues:${expires}`)}`, { httpOnly: true, sameSite: 'strict', path: '/console/queues', maxAge: COOKIE_SECONDS * 1000 });
    res.json({ queues_url: '/console/queues', expires_at: expires });
  });
  router.use('/console/api', api);

  if (opts.queuesUi && opts.mac) {
    const mac = opts.mac;
    const cookieOk = (req: Request): boolean => {
      const raw = /(?:^|;\s*)spool_console_queues=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (!raw) return false;
      const [exp, sig] = decodeURIComponent(raw).split('.');
      if (!exp || !sig || !/^\d+$/.test(exp) || Number(exp) < opts.nowMs() / 1000) return false;
      const want = Buffer.from(mac(`console-queues:${exp}`));
      const got = Buffer.from(sig);
      return want.length === got.length && timingSafeEqual(want, got);
    };
    const ui = opts.queuesUi;
    router.use('/console/queues', (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next(new ApiError(405, 'The queues view is read-only.', 'invalid_request_error', 'method_not_allowed'));
      if (!cookieOk(req)) return next(new ApiError(401, 'Open the queues view from the console (it signs this browser in).', 'invalid_request_error', 'invalid_api_key'));
      ui(req, res, next);
    });
  }
  return router;
}
