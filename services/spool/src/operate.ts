import type { Server } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type RequestHandler } from 'express';
import type { RedisClient } from '@spool/redis';
import { QUEUES, type Keys, type SealedResponse } from '@spool/contracts';
import type { JobQueues } from '@spool/queues';
import { metricsHandler, type QueueCounts } from '@spool/api';
import type { ResponseStatus } from '@spool/protocol';
import { KeyLimiter, OpsIndex, ResponseStore } from '@spool/redis';
import { createMetrics, modelLabel, type Config, type Logger, type Metrics } from '@spool/runtime';

const STATES = ['waiting', 'active', 'delayed', 'waiting-children', 'failed'] as const;

/**
 * What every process needs to be operated: its metrics registry, the per-key limiter and usage
 * ledger, the console's index, and what happens when a response is sealed (usage settled,
 * in-flight released, the response counted). Wired by server.ts; holds no request logic.
 */
export function createOperations(config: Config, keys: Keys, command: RedisClient, jobQueues: JobQueues, logger: Logger) {
  const metrics: Metrics = createMetrics({
    models: config.models.map((m) => m.pattern),
    keyNames: config.apiKeyEntries.map((k) => k.name),
    mcpServers: Object.keys(config.mcpServers),
  });
  const store = new ResponseStore(command, keys);
  const limiter = new KeyLimiter(command, keys);
  const index = new OpsIndex(command, keys);
  // Queue handles for counting and for the read-only queues view (they open no worker).
  const queues = jobQueues.all();
  let openStreams: () => number = () => 0;

  const queueCounts = async (): Promise<QueueCounts> => {
    const counts = await Promise.all(queues.map((q) => q.getJobCounts(...STATES)));
    return Object.fromEntries(queues.map((q, i) => [q.name, counts[i] as Record<string, number>]));
  };

  /** Gauges read at scrape time: one Redis round per queue, none per response. */
  const refresh = async () => {
    metrics.sseStreams.set(openStreams());
    const [counts, pending] = await Promise.all([queueCounts(), index.pendingApprovalCount(Date.now())]);
    for (const [queue, byState] of Object.entries(counts)) for (const state of STATES) metrics.queueJobs.set({ queue, state }, byState[state] ?? 0);
    metrics.approvalsPending.set(pending);
  };
  // Families exist from start-up; the queue gauges at zero until the first scrape reads them.
  for (const queue of Object.values(QUEUES)) for (const state of STATES) metrics.queueJobs.set({ queue, state }, 0);

  /** Once per sealed response (seals are compare-and-set): settle its key's usage and count it. */
  const onSealed = async (responseId: string, status: ResponseStatus, sealed?: SealedResponse) => {
    // The sealer's own copy when it passed one: a read of the whole snapshot back from Redis less per response.
    const record = sealed ?? (await store.summary(responseId));
    if (!record) return;
    const u = record.snapshot.usage;
    const now = Date.now();
    await limiter.settle(
      record.owner,
      responseId,
      now,
      {
        model: record.snapshot.model,
        inputTokens: u?.input_tokens ?? 0,
        outputTokens: u?.output_tokens ?? 0,
        reasoningTokens: u?.output_tokens_details?.reasoning_tokens ?? 0,
        cachedTokens: u?.input_tokens_details?.cached_tokens ?? 0,
      },
      config.limits.usage_retention_days,
    );
    metrics.responses.inc({ status, model: modelLabel(config, record.snapshot.model) });
    metrics.responseDuration.observe({ status }, Math.max(0, now / 1000 - record.snapshot.created_at));
  };

  /** The bull-board view of every queue, read-only. */
  const queuesUi = (): RequestHandler => {
    const adapter = new ExpressAdapter();
    adapter.setBasePath('/console/queues');
    createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })), serverAdapter: adapter, options: { uiConfig: { boardTitle: 'Spool queues' } } });
    return adapter.getRouter() as RequestHandler;
  };

  /** `/metrics` on METRICS_PORT for a process without the api role. */
  const serveMetrics = async (port: number): Promise<Server> => {
    const app = express();
    app.disable('x-powered-by');
    app.get(
      '/metrics',
      metricsHandler(
        { metrics, apiKeys: config.apiKeys, adminKeys: config.adminKeys.map((k) => k.key), metricsToken: config.metricsToken, allowUnauthenticated: config.allowUnauthenticated },
        refresh,
      ),
    );
    app.use((_req, res) => res.status(404).json({ error: { message: 'Not found: this process serves /metrics only.', type: 'invalid_request_error', param: null, code: 'unknown_url' } }));
    app.use(((err: { status?: number; toBody?: () => unknown }, _req, res, _next) => {
      res.status(err.status ?? 500).json(err.toBody?.() ?? { error: { message: 'server error', type: 'server_error', param: null, code: 'server_error' } });
    }) as express.ErrorRequestHandler);
    return new Promise((resolve, reject) => {
      const s = app.listen(port, config.host, () => resolve(s));
      s.once('error', reject);
    });
  };

  return {
    metrics,
    limiter,
    index,
    store,
    queueCounts,
    refresh,
    onSealed,
    queuesUi,
    serveMetrics,
    watchStreams: (count: () => number) => {
      openStreams = count;
    },
  };
}
