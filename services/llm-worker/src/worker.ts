import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUES, type Keys } from '@spool/contracts';
import type { ResponseStore } from '@spool/redis';
import type { Config, Logger } from '@spool/runtime';
import { createTurnProcessor } from './processor.ts';
import { Upstreams } from './upstream.ts';

export interface LlmWorkerDeps {
  config: Config;
  keys: Keys;
  store: ResponseStore;
  /** A connection with maxRetriesPerRequest: null, as BullMQ requires. */
  queueConnection: Redis;
  logger: Logger;
}

export interface RunningWorker {
  worker: Worker;
  close(): Promise<void>;
}

/** The LLM worker role: consumes turn jobs. */
export function startLlmWorker(deps: LlmWorkerDeps): RunningWorker {
  const { config } = deps;
  const upstreams = new Upstreams(config.models, config.defaultUpstream, {
    maxRetries: config.limits.upstream_max_retries,
    timeoutMs: config.limits.upstream_timeout_ms,
  });
  const processor = createTurnProcessor({
    store: deps.store,
    upstreams,
    limits: config.limits,
    now: () => Math.floor(Date.now() / 1000),
    logger: deps.logger,
  });
  const worker = new Worker(QUEUES.turns, processor, {
    connection: deps.queueConnection,
    prefix: deps.keys.bullPrefix,
    concurrency: config.limits.llm_concurrency,
    // A turn's upstream call may be quiet for long; the lock is renewed while the process lives,
    // and a dead process's job is taken over after the lock expires.
    lockDuration: 30_000,
    stalledInterval: 15_000,
    maxStalledCount: 1,
  });
  worker.on('error', (err) => deps.logger.error({ err }, 'llm worker error'));
  return {
    worker,
    close: () => worker.close(),
  };
}

export { Upstreams };
