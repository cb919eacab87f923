import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKeys, type SealedResponse } from '@spool/contracts';
import { DeadLetters, JobQueues, openJobKey } from '@spool/queues';
import { Admission, attachResponsesWebSocket, ConversationsService, createApp, ElicitationAnswers, ModelCatalog, OperateService, operateRouter, ResponsesService, type SseWriter } from '@spool/api';
import OpenAI from 'openai';
import { createOperations } from './operate.ts';
import { startLlmWorker } from '@spool/llm-worker';
import { startMcpExecutor } from '@spool/mcp-executor';
import { startWebhookWorker, WebhookNotifier } from '@spool/webhooks';
import type { ResponseStatus } from '@spool/protocol';
import { randomBytes } from 'node:crypto';
import { ApprovalStore, checkEvictionPolicy, connect, ConversationStore, ElicitationStore, isCluster, LiveHub, ResponseStore, waitReady, type RedisClient, type RedisTarget } from '@spool/redis';
import { matchesModel, openCompaction, routeFor, sealCompaction, SecretBox, type Config, type Logger } from '@spool/runtime';

/** Spool will not start on this Redis as it is configured; the message says how to fix it. */
export class UnsafeRedisError extends Error {
  override readonly name = 'UnsafeRedisError';
}

export interface RunningSpool {
  /** Base URL of the API (no /v1), when the api role runs. */
  url: string | null;
  /** The key this process generated for clients (see `apiKeysFor`), to be printed once; else null. */
  generatedApiKey: string | null;
  /** Whether clients need a generated key (made by this process or by an earlier one). */
  usesGeneratedKey: boolean;
  /** Where a process without the api role serves /metrics (METRICS_PORT), else null. */
  metricsUrl?: string | null;
  close(): Promise<void>;
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * The keys the API accepts. Configured keys win; with none, a server bound to loopback serves
 * loopback clients as before, but one listening beyond it (a container publishing 0.0.0.0, where
 * every client comes through a bridge and "loopback only" would serve nobody) gets a random key,
 * kept in Redis so every api replica accepts the same one. `generated` is set only in the process
 * that created it, so the key is printed once.
 */
async function apiKeysFor(config: Config, redis: RedisClient, key: string): Promise<{ keys: string[]; generated: string | null; usesGenerated: boolean }> {
  if (config.apiKeys.length > 0 || config.allowUnauthenticated || isLoopbackHost(config.host)) return { keys: config.apiKeys, generated: null, usesGenerated: false };
  const fresh = `sk-spool-${randomBytes(24).toString('base64url')}`;
  const created = (await redis.set(key, fresh, 'NX')) === 'OK';
  const stored = created ? fresh : ((await redis.get(key)) ?? fresh);
  return { keys: [stored], generated: created ? stored : null, usesGenerated: true };
}

/**
 * Wires the roles this process runs onto one Redis. Every role can run alone (SPOOL_ROLES), so
 * the same build scales as separate processes; all state is in Redis.
 */
export async function startSpool(config: Config, redis: RedisTarget | string, logger: Logger): Promise<RunningSpool> {
  const target: RedisTarget = typeof redis === 'string' ? { url: redis } : redis;
  const keys = createKeys(config.prefix, { cluster: isCluster(target) });
  const command = connect(target, 'command');
  const queueConn = connect(target, 'queue');
  const closers: Array<() => Promise<void>> = [];
  // Connection errors are expected while Redis restarts; ioredis reconnects by itself.
  for (const c of [command, queueConn]) c.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  await waitReady(command, 10_000);
  const eviction = await checkEvictionPolicy(command);
  if (eviction.kind === 'evicts' && !config.redisAllowEviction) {
    command.disconnect();
    queueConn.disconnect();
    throw new UnsafeRedisError(
      `Redis has maxmemory-policy '${eviction.policy}', which evicts keys under memory pressure: running responses and queued jobs would vanish. ` +
        'Run `redis-cli CONFIG SET maxmemory-policy noeviction` (and set it in redis.conf), or accept the risk with SPOOL_REDIS_ALLOW_EVICTION=true (redis.allow_eviction in the config file).',
    );
  }
  if (eviction.kind === 'evicts') logger.warn({ policy: eviction.policy }, 'redis evicts keys under memory pressure (allowed by configuration)');
  if (eviction.kind === 'unknown') logger.warn({ reason: eviction.reason }, 'could not read maxmemory-policy; make sure it is noeviction');
  const storeOptions = { maxPublishBytes: config.limits.max_publish_bytes, staleAfterMs: config.limits.watchdog_stale_after_ms };
  const store = new ResponseStore(command, keys, storeOptions);
  // Workers write through a connection that waits for Redis to come back, so a blip delays a
  // turn instead of failing it; the API's connection fails fast so clients get a 503.
  const workerConn = connect(target, 'queue', { connectionName: 'spool-worker' });
  workerConn.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
  const workerStore = new ResponseStore(workerConn, keys, storeOptions);
  const box = await openJobKey(config.secretKey, command, keys);
  // The one set of producers of this process: every enqueue goes through the job catalog.
  const queues = new JobQueues({ connection: queueConn, keys, logger, maxTurns: config.limits.max_turns });
  let rolesStarted = false;
  const ops = createOperations(config, keys, command, queues, logger);
  closers.push(() => queues.close());

  // Webhooks: enqueued where a background response is sealed, delivered by the llm role's processes.
  const hasWebhooks = config.webhooks.length > 0;
  const notifier = new WebhookNotifier(hasWebhooks ? (jobs, retry) => queues.enqueueWebhooks(jobs, retry) : null, config.webhooks, {
    attempts: config.limits.webhook_attempts,
    backoffMs: config.limits.webhook_backoff_ms,
  });
  const onSealed = async (id: string, status: ResponseStatus, background: boolean, sealed?: SealedResponse) => {
    await Promise.all([
      notifier.notify(id, status, background).catch((err: unknown) => logger.error({ err, responseId: id }, 'could not enqueue webhooks')),
      ops.onSealed(id, status, sealed).catch((err: unknown) => logger.error({ err, responseId: id }, 'could not settle usage')),
    ]);
  };

  // One subscriber per process: SSE readers and synchronous waits (api), and the turns and MCP
  // calls that follow their response's channel to learn of a cancel's seal (workers).
  const subscriber = connect(target, 'subscriber');
  subscriber.on('error', (err) => logger.debug({ err: err.message }, 'redis subscriber error'));
  const hub = new LiveHub(subscriber, keys.pubsub);
  closers.push(async () => void subscriber.disconnect());

  if (config.roles.has('llm')) {
    const llm = startLlmWorker({ config, keys, store: workerStore, box, queues, queueConnection: queueConn, hub, onSealed, logger: logger.child({ role: 'llm' }), metrics: ops.metrics });
    closers.push(() => llm.close());
    if (hasWebhooks) {
      const hooks = startWebhookWorker({ config, keys, connection: queueConn, command, logger: logger.child({ role: 'webhooks' }), metrics: ops.metrics });
      closers.push(() => hooks.close());
    }
  }

  let url: string | null = null;
  let generatedApiKey: string | null = null;
  let usesGeneratedKey = false;
  if (config.roles.has('api')) {
    const auth = await apiKeysFor(config, command, keys.generatedApiKey);
    generatedApiKey = auth.generated;
    usesGeneratedKey = auth.usesGenerated;
    const streams = new Set<SseWriter>();
    // With the demo model, the llm processes serve every name; this one may not run it itself.
    const hasModel = (model: string) => config.demoModel || routeFor(config, model) !== null;
    const routeOptions = (model: string) => {
      const route = routeFor(config, model);
      return { dropParams: route?.dropParams ?? [], contextWindow: route?.contextWindow ?? null, api: route?.api ?? 'chat', hostedTools: route?.hostedTools ?? [] };
    };
    const conversations = new ConversationsService({
      conversations: new ConversationStore(command, keys),
      responses: store,
      limits: config.limits,
      now: () => Math.floor(Date.now() / 1000),
    });
    ops.watchStreams(() => streams.size);
    const admission = new Admission({
      limiter: ops.limiter,
      keys: config.apiKeyEntries,
      queueDepth: () => queues.waitingTurns(),
      maxQueueDepth: config.limits.max_queue_depth,
      inFlightTtlMs: config.limits.in_flight_ttl_seconds * 1000,
      metrics: ops.metrics,
      nowMs: () => Date.now(),
    });
    const elicitations = new ElicitationStore(command, keys);
    const responses = new ResponsesService({
      admission,
      // The console's list of recent responses: only kept where there is a console to show it.
      ...(config.adminKeys.length > 0 ? { onCreated: (id: string) => ops.index.responseCreated(id, Date.now()) } : {}),
      conversations,
      store,
      approvals: new ApprovalStore(command, keys),
      elicitations: new ElicitationAnswers({ store: elicitations, mac: (text) => box.digest(text), nowMs: () => Date.now() }),
      hub,
      keys,
      enqueueTurn: (job) => queues.enqueueTurn(job),
      hasModel,
      routeOptions,
      configuredMcpServers: new Set(Object.keys(config.mcpServers)),
      mcpServerPolicies: config.mcpServers,
      approvalMac: (text) => box.digest(text),
      sealSecrets: (v) => box.seal(v),
      sealCompaction: (owner, summary) => sealCompaction(box, owner, summary),
      openCompaction: (owner, sealed) => openCompaction(box, owner, sealed),
      onSealed,
      limits: config.limits,
      now: () => Math.floor(Date.now() / 1000),
      removeQueuedTurns: (responseId) => queues.removeQueuedTurns(responseId),
    });
    const apiLogger = logger.child({ role: 'api' });
    const deadLetters = new DeadLetters(command, keys);
    const operate = new OperateService({
      store,
      index: ops.index,
      limiter: ops.limiter,
      deadLetters: (limit) => deadLetters.list(limit),
      responses,
      apiKeys: config.apiKeyEntries,
      queueCounts: ops.queueCounts,
      admission: () => ({ maxQueueDepth: config.limits.max_queue_depth, rejected: admission.rejectedByBacklog }),
      nowMs: () => Date.now(),
      elicitations,
    });
    const app = createApp({
      models: modelCatalog(config),
      operateRouter: operateRouter(
        {
          metrics: ops.metrics,
          apiKeys: config.apiKeys,
          adminKeys: config.adminKeys.map((k) => k.key),
          metricsToken: config.metricsToken,
          allowUnauthenticated: config.allowUnauthenticated,
          operate,
          queuesUi: ops.queuesUi(),
          mac: (text) => box.digest(text),
          keepaliveMs: config.limits.keepalive_ms,
          nowMs: () => Date.now(),
          onStreamError: (err, req) => apiLogger.error({ err, path: req.path }, 'console stream failed'),
        },
        ops.refresh,
      ),
      responses,
      logger: logger.child({ role: 'api' }),
      apiKeys: auth.keys,
      allowUnauthenticated: config.allowUnauthenticated,
      maxBodyBytes: config.limits.max_body_bytes,
      keepaliveMs: config.limits.keepalive_ms,
      maxBufferedBytes: config.limits.sse_max_buffered_bytes,
      corsAllowOrigins: config.corsAllowOrigins,
      maxJsonDepth: config.limits.max_json_depth,
      ready: async () => rolesStarted && (await command.ping()) === 'PONG',
      streams,
      conversations,
    });
    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(config.port, config.host, () => resolve(s));
      s.once('error', reject);
    });
    // WebSocket mode on the same server: the same service, keys and browser policy as HTTP.
    const sockets = attachResponsesWebSocket(server, {
      service: responses,
      logger: logger.child({ role: 'api', transport: 'websocket' }),
      apiKeys: config.apiKeys,
      allowUnauthenticated: config.allowUnauthenticated,
      corsAllowOrigins: config.corsAllowOrigins,
      maxMessageBytes: config.limits.max_body_bytes,
      maxJsonDepth: config.limits.max_json_depth,
      maxQueued: config.limits.ws_max_queued,
      idleMs: config.limits.ws_idle_ms,
      pingMs: config.limits.ws_ping_ms,
    });
    const { port } = server.address() as AddressInfo;
    url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    closers.push(async () => {
      // Stop accepting, end open streams so their clients resume elsewhere, then let requests
      // that wait for a synchronous answer finish within a short grace.
      sockets.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      for (const sse of [...streams]) sse.interrupt();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
      await closed;
    });
  }
  if (config.roles.has('mcp')) {
    const mcp = startMcpExecutor({ config, keys, queueConnection: queueConn, box, store: workerStore, hub, logger: logger.child({ role: 'mcp' }), metrics: ops.metrics });
    closers.push(() => mcp.close());
  }
  let metricsUrl: string | null = null;
  if (!config.roles.has('api') && config.metricsPort !== null) {
    // A worker-only process serves /metrics on its own port (the api role serves it on its own).
    const metricsServer = await ops.serveMetrics(config.metricsPort);
    metricsUrl = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${(metricsServer.address() as AddressInfo).port}/metrics`;
    closers.push(() => new Promise<void>((r) => metricsServer.close(() => r())));
  }
  rolesStarted = true;
  // Closers run in reverse: the API stops first, then the workers finish or hand back their jobs.

  return {
    url,
    generatedApiKey,
    usesGeneratedKey,
    metricsUrl,
    close: async () => {
      for (const close of closers.reverse()) await close().catch((err) => logger.warn({ err }, 'close failed'));
      command.disconnect();
      queueConn.disconnect();
      workerConn.disconnect();
    },
  };
}

/**
 * The models `GET /v1/models` lists: exact route names, then what the default upstream lists
 * (cached a minute, asked with a short timeout and no retries: a listing is never worth a wait).
 */
function modelCatalog(config: Config): ModelCatalog {
  const upstream = config.defaultUpstream;
  const client = upstream ? new OpenAI({ baseURL: upstream.baseUrl, apiKey: upstream.apiKey, maxRetries: 0, timeout: 5000 }) : null;
  return new ModelCatalog({
    exactNames: [...new Set(config.models.filter((r) => !/[*?]/.test(r.pattern)).map((r) => r.pattern))],
    globRouted: (model) => config.models.some((r) => /[*?]/.test(r.pattern) && matchesModel(r.pattern, model)),
    listUpstream: client
      ? async () => {
          const page = await client.models.list();
          return page.data.map((m) => ({ id: m.id, object: 'model' as const, created: m.created ?? 0, owned_by: m.owned_by ?? 'upstream' }));
        }
      : null,
    cacheMs: 60_000,
    now: () => Date.now(),
    createdAt: Math.floor(Date.now() / 1000),
  });
}
