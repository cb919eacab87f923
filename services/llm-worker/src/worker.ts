import { QUEUES, type Keys, type McpSecrets, type SealedResponse } from '@spool/contracts';
import { startWorker, type JobQueues, type RunningWorker } from '@spool/queues';
import { ApprovalStore, ConversationStore, InflightIndex, ToolListCache, type RedisClient, type ResponseStore } from '@spool/redis';
import { modelLabel, openCompaction, type Config, type Logger, type Metrics, type SecretBox } from '@spool/runtime';
import { createTurnObserver } from './observe.ts';
import type { ResponseStatus } from '@spool/protocol';
import { createTurnProcessor } from './processor.ts';
import { failFromLog } from './turn/recover.ts';
import type { TurnDeps } from './turn/run.ts';
import { startWatchdog } from './watchdog.ts';
import { Upstreams } from './upstream.ts';

export interface LlmWorkerDeps {
  config: Config;
  keys: Keys;
  store: ResponseStore;
  /** Opens the MCP credentials in job data, to find their cached tool listings. */
  box: SecretBox;
  /** The process's producers (the next turn's flow, the watchdog's look at turn jobs). */
  queues: JobQueues;
  /** A connection with maxRetriesPerRequest: null, as BullMQ requires. */
  queueConnection: RedisClient;
  onSealed: (responseId: string, status: ResponseStatus, background: boolean, sealed?: SealedResponse) => Promise<void>;
  logger: Logger;
  metrics?: Metrics;
}

/** The LLM worker role: consumes turn jobs. */
export function startLlmWorker(deps: LlmWorkerDeps): RunningWorker {
  const { config } = deps;
  const upstreams = new Upstreams(config.models, config.defaultUpstream, {
    maxRetries: config.limits.upstream_max_retries,
    timeoutMs: config.limits.upstream_timeout_ms,
    idleTimeoutMs: config.limits.upstream_idle_timeout_ms,
  });
  const turnDeps: TurnDeps = {
    store: deps.store,
    approvals: new ApprovalStore(deps.store.redis, deps.keys),
    upstreams,
    limits: config.limits,
    mcpServers: config.mcpServers,
    toolLists: new ToolListCache(deps.store.redis, deps.keys, (text) => deps.box.digest(text), config.limits.mcp_tool_list_cache_seconds),
    openSecrets: (sealed) => deps.box.open<McpSecrets>(sealed),
    onSealed: deps.onSealed,
    enqueueNext: (next, children) => deps.queues.enqueueNext(next, children),
    now: () => Math.floor(Date.now() / 1000),
    approvalMac: (text) => deps.box.digest(text),
    conversations: new ConversationStore(deps.store.redis, deps.keys),
    openCompaction: (owner, sealed) => openCompaction(deps.box, owner, sealed),
    observe: createTurnObserver(deps.metrics),
    routeLabel: (model) => modelLabel(config, model),
  };
  const processor = createTurnProcessor({ ...turnDeps, logger: deps.logger });
  const running = startWorker(QUEUES.turns, processor, {
    connection: deps.queueConnection,
    keys: deps.keys,
    logger: deps.logger,
    concurrency: config.limits.llm_concurrency,
    graceMs: config.limits.shutdown_grace_ms,
  });

  // Every response needs an owner that ends it: the watchdog fails those whose turn jobs are gone.
  const watchdog = startWatchdog({
    index: new InflightIndex(deps.store.redis, deps.keys),
    store: deps.store,
    turnStates: (responseId) => deps.queues.turnStates(responseId),
    fail: (responseId, message) => failFromLog(turnDeps, responseId, message),
    staleAfterMs: config.limits.watchdog_stale_after_ms,
    intervalMs: config.limits.watchdog_interval_ms,
    now: () => Date.now(),
    logger: deps.logger,
  });
  return {
    worker: running.worker,
    close: async () => {
      await watchdog.stop();
      await running.close();
      upstreams.close();
    },
  };
}

export { Upstreams };
