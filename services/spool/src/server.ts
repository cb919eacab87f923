import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, type Worker } from 'bullmq';
import { createKeys, QUEUES, turnJob, type TurnJob } from '@spool/contracts';
import { createApp, ResponsesService, type SseWriter } from '@spool/api';
import { startLlmWorker } from '@spool/llm-worker';
import { startMcpExecutor } from '@spool/mcp-executor';
import { startWebhookWorker, WebhookNotifier } from '@spool/webhooks';
import type { ResponseStatus } from '@spool/protocol';
import { ApprovalStore, checkEvictionPolicy, connect, LiveHub, ResponseStore, waitReady } from '@spool/redis';
import { routeFor, SecretBox, type Config, type Logger } from '@spool/runtime';
import type { Redis } from 'ioredis';

/**
 * The key that seals MCP credentials in job data: SPOOL_SECRET_KEY, else one kept in Redis and
 * shared by every process on it (set SPOOL_SECRET_KEY so that a copy of Redis alone reveals nothing).
 */
async function jobKey(config: Config, redis: Redis, key: string): Promise<SecretBox> {
  if (config.secretKey) return new SecretBox(Buffer.from(config.secretKey, 'base64'));
  await redis.set(key, SecretBox.generateKey(), 'NX');
  const stored = await redis.get(key);
  return new SecretBox(Buffer.from(stored as string, 'base64'));
}

/** Spool will not start on this Redis as it is configured; the message says how to fix it. */
export class UnsafeRedisError extends Error {
  override readonly name = 'UnsafeRedisError';
}

export interface RunningSpool {
  /** Base URL of the API (no /v1), when the api role runs. */
  url: string | null;
  close(): Promise<void>;
}

/**
 * Wires the roles this process runs onto one Redis. Every role can run alone (SPOOL_ROLES), so
 * the same build scales as separate processes; all state is in Redis.
 */
export async function startSpool(config: Config, redisUrl: string, logger: Logger): Promise<RunningSpool> {
  const keys = createKeys(config.prefix);
  const command = connect(redisUrl, 'command');
  const queueConn = connect(redisUrl, 'queue');
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
        "Run `redis-cli CONFIG SET maxmemory-policy noeviction` (and set it in redis.conf), or accept the risk with SPOOL_REDIS_ALLOW_EVICTION=true (redis.allow_eviction in the config file).",
    );
  }
  if (eviction.kind === 'evicts') logger.warn({ policy: eviction.policy }, 'redis evicts keys under memory pressure (allowed by configuration)');
  if (eviction.kind === 'unknown') logger.warn({ reason: eviction.reason }, 'could not read maxmemory-policy; make sure it is noeviction');
  const store = new ResponseStore(command, keys);
  // Workers write through a connection that waits for Redis to come back, so a blip delays a
  // turn instead of failing it; the API's connection fails fast so clients get a 503.
  const workerConn = connect(redisUrl, 'queue', { connectionName: 'spool-worker' });
  workerConn.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
  const workerStore = new ResponseStore(workerConn, keys);
  const box = await jobKey(config, command, keys.jobKey);
  let rolesStarted = false;

  // Webhooks: enqueued where a background response is sealed, delivered by the llm role's processes.
  const webhookQueue = config.webhooks.length > 0 ? new Queue(QUEUES.webhooks, { connection: queueConn, prefix: keys.bullPrefix }) : null;
  webhookQueue?.on('error', (err) => logger.debug({ err: err.message }, 'webhook queue error'));
  if (webhookQueue) closers.push(() => webhookQueue.close());
  const notifier = new WebhookNotifier(webhookQueue, config.webhooks, { attempts: config.limits.webhook_attempts, backoffMs: config.limits.webhook_backoff_ms });
  const onSealed = (id: string, status: ResponseStatus, background: boolean) =>
    notifier.notify(id, status, background).catch((err: unknown) => logger.error({ err, responseId: id }, 'could not enqueue webhooks'));

  if (config.roles.has('llm')) {
    const llm = startLlmWorker({ config, keys, store: workerStore, box, queueConnection: queueConn, onSealed, logger: logger.child({ role: 'llm' }) });
    closers.push(() => closeWithin(llm.worker, config.limits.shutdown_grace_ms, llm.close));
    if (webhookQueue) {
      const hooks = startWebhookWorker({ config, keys, connection: queueConn, command, logger: logger.child({ role: 'webhooks' }) });
      closers.push(() => hooks.close());
    }
  }

  let url: string | null = null;
  if (config.roles.has('api')) {
    const subscriber = connect(redisUrl, 'subscriber');
    subscriber.on('error', (err) => logger.debug({ err: err.message }, 'redis subscriber error'));
    const hub = new LiveHub(subscriber);
    const streams = new Set<SseWriter>();
    const turns = new Queue(QUEUES.turns, { connection: queueConn, prefix: keys.bullPrefix });
    turns.on('error', (err) => logger.debug({ err: err.message }, 'turn queue error'));
    const enqueueTurn = async (job: TurnJob) => {
      await turns.add(turnJob.name, turnJob.schema.parse(job), { ...turnJob.options, jobId: turnJob.jobId(job) });
    };
    // After a cancel: turn job ids come from the response id and the turn number, so the queued ones
    // can be named; BullMQ leaves a running (locked) job alone, and its worker stops by itself.
    const removeQueuedTurns = async (responseId: string) => {
      const turnNumbers = Array.from({ length: config.limits.max_turns + 1 }, (_, turn) => turn);
      // The MCP jobs a removed turn waited for stay: each sees the response closed and ends at once,
      // and one polling an MCP task sends tasks/cancel first (removing them would leave the task running).
      await Promise.all(turnNumbers.map((turn) => turns.remove(turnJob.jobId({ responseId, turn }), { removeChildren: false })));
    };
    const hasModel = (model: string) => routeFor(config, model) !== null;
    const responses = new ResponsesService({
      store,
      approvals: new ApprovalStore(command, keys),
      hub,
      keys,
      enqueueTurn,
      hasModel,
      configuredMcpServers: new Set(Object.keys(config.mcpServers)),
      mcpServerPolicies: config.mcpServers,
      approvalMac: (text) => box.digest(text),
      sealSecrets: (v) => box.seal(v),
      onSealed,
      limits: config.limits,
      now: () => Math.floor(Date.now() / 1000),
      removeQueuedTurns,
    });
    const app = createApp({
      responses,
      logger: logger.child({ role: 'api' }),
      apiKeys: config.apiKeys,
      allowUnauthenticated: config.allowUnauthenticated,
      maxBodyBytes: config.limits.max_body_bytes,
      keepaliveMs: config.limits.keepalive_ms,
      maxBufferedBytes: config.limits.sse_max_buffered_bytes,
      corsAllowOrigins: config.corsAllowOrigins,
      maxJsonDepth: config.limits.max_json_depth,
      ready: async () => rolesStarted && (await command.ping()) === 'PONG',
      streams,
    });
    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(config.port, config.host, () => resolve(s));
      s.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    closers.push(async () => {
      // Stop accepting, end open streams so their clients resume elsewhere, then let requests
      // that wait for a synchronous answer finish within a short grace.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      for (const sse of [...streams]) sse.interrupt();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
      await closed;
    });
    closers.push(() => turns.close());
    closers.push(async () => void subscriber.disconnect());
  }
  if (config.roles.has('mcp')) {
    const mcp = startMcpExecutor({ config, keys, queueConnection: queueConn, box, store: workerStore, logger: logger.child({ role: 'mcp' }) });
    closers.push(() => closeWithin(mcp.worker, config.limits.shutdown_grace_ms, mcp.close));
  }
  rolesStarted = true;
  // Closers run in reverse: the API stops first, then the workers finish or hand back their jobs.

  return {
    url,
    close: async () => {
      for (const close of closers.reverse()) await close().catch((err) => logger.warn({ err }, 'close failed'));
      command.disconnect();
      queueConn.disconnect();
      workerConn.disconnect();
    },
  };
}

/**
 * Stops a worker taking jobs and lets the jobs in hand finish for `graceMs`; then closes it
 * without waiting. A job left unfinished keeps its lock until it expires and is then taken over by
 * another worker (which fails the response as interrupted, or retries a safe MCP call).
 */
async function closeWithin(worker: Worker, graceMs: number, closeAll: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = closeAll();
  const timedOut = await Promise.race([
    graceful.then(() => false),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) await worker.close(true);
}
