import { FlowProducer, Queue, Worker } from 'bullmq';
import type { RedisClient } from '@spool/redis';
import { mcpJob, QUEUES, turnJob, WORKER_OPTIONS, type Keys, type McpJob, type McpSecrets, type SealedResponse, type TurnJob } from '@spool/contracts';
import { ApprovalStore, ConversationStore, InflightIndex, ToolListCache, type ResponseStore } from '@spool/redis';
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
  /** A connection with maxRetriesPerRequest: null, as BullMQ requires. */
  queueConnection: RedisClient;
  onSealed: (responseId: string, status: ResponseStatus, background: boolean, sealed?: SealedResponse) => Promise<void>;
  logger: Logger;
  metrics?: Metrics;
}

export interface RunningWorker {
  worker: Worker;
  close(): Promise<void>;
}

/** The turn queue's worker options, from the job catalog (contracts/jobs.ts). */
export const TURN_WORKER_OPTIONS = WORKER_OPTIONS.turns;

/** The LLM worker role: consumes turn jobs. */
export function startLlmWorker(deps: LlmWorkerDeps): RunningWorker {
  const { config } = deps;
  const upstreams = new Upstreams(config.models, config.defaultUpstream, {
    maxRetries: config.limits.upstream_max_retries,
    timeoutMs: config.limits.upstream_timeout_ms,
    idleTimeoutMs: config.limits.upstream_idle_timeout_ms,
  });
  const flows = new FlowProducer({ connection: deps.queueConnection, prefix: deps.keys.bullPrefix });
  flows.on('error', (err) => deps.logger.debug({ err: err.message }, 'flow producer error'));
  const turnDeps: TurnDeps = {
    store: deps.store,
    approvals: new ApprovalStore(deps.store.redis, deps.keys),
    upstreams,
    limits: config.limits,
    mcpServers: config.mcpServers,
    toolLists: new ToolListCache(deps.store.redis, deps.keys, (text) => deps.box.digest(text), config.limits.mcp_tool_list_cache_seconds),
    openSecrets: (sealed) => deps.box.open<McpSecrets>(sealed),
    onSealed: deps.onSealed,
    enqueueNext: (next, children) => enqueueNext(flows, deps.keys, next, children),
    now: () => Math.floor(Date.now() / 1000),
    approvalMac: (text) => deps.box.digest(text),
    conversations: new ConversationStore(deps.store.redis, deps.keys),
    openCompaction: (owner, sealed) => openCompaction(deps.box, owner, sealed),
    observe: createTurnObserver(deps.metrics),
    routeLabel: (model) => modelLabel(config, model),
  };
  const processor = createTurnProcessor({ ...turnDeps, logger: deps.logger });
  const worker = new Worker(QUEUES.turns, processor, {
    connection: deps.queueConnection,
    prefix: deps.keys.bullPrefix,
    concurrency: config.limits.llm_concurrency,
    ...TURN_WORKER_OPTIONS,
  });
  worker.on('error', (err) => deps.logger.error({ err }, 'llm worker error'));

  // Every response needs an owner that ends it: the watchdog fails those whose turn jobs are gone.
  const turns = new Queue(QUEUES.turns, { connection: deps.queueConnection, prefix: deps.keys.bullPrefix });
  turns.on('error', (err) => deps.logger.debug({ err: err.message }, 'watchdog queue error'));
  const turnNumbers = Array.from({ length: config.limits.max_turns + 2 }, (_, turn) => turn);
  const watchdog = startWatchdog({
    index: new InflightIndex(deps.store.redis, deps.keys),
    store: deps.store,
    turnStates: (responseId) => Promise.all(turnNumbers.map((turn) => turns.getJobState(turnJob.jobId({ responseId, turn })))),
    fail: (responseId, message) => failFromLog(turnDeps, responseId, message),
    staleAfterMs: config.limits.watchdog_stale_after_ms,
    intervalMs: config.limits.watchdog_interval_ms,
    now: () => Date.now(),
    logger: deps.logger,
  });
  return {
    worker,
    close: async () => {
      await watchdog.stop();
      await turns.close();
      await worker.close();
      await flows.close();
      upstreams.close();
    },
  };
}

/**
 * The next turn waits for its MCP jobs: it is the parent of a flow whose children run on the MCP
 * queue in parallel. A child that fails for good does not block the parent
 * (ignoreDependencyOnFailure): the turn then reports the call as interrupted.
 */
async function enqueueNext(flows: FlowProducer, keys: Keys, next: TurnJob, children: McpJob[]): Promise<void> {
  await flows.add({
    name: turnJob.name,
    queueName: turnJob.queue,
    data: turnJob.schema.parse(next),
    prefix: keys.bullPrefix,
    opts: { ...turnJob.options, jobId: turnJob.jobId(next) },
    children: children.map((c) => ({
      name: mcpJob.name,
      queueName: mcpJob.queue,
      data: mcpJob.schema.parse(c),
      prefix: keys.bullPrefix,
      opts: { ...mcpJob.options(c), jobId: mcpJob.jobId(c) },
    })),
  });
}

export { Upstreams };
