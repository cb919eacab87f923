import { Worker, type Processor } from 'bullmq';
import { WORKER_OPTIONS, type Keys, type QueueName } from '@spool/contracts';
import type { RedisClient } from '@spool/redis';
import type { Logger } from '@spool/runtime';

export interface StartWorkerOptions {
  connection: RedisClient;
  keys: Keys;
  logger: Logger;
  concurrency: number;
  /** How long `close` lets the jobs in hand finish (limits.shutdown_grace_ms); then it stops waiting. */
  graceMs: number;
}

export interface RunningWorker {
  worker: Worker;
  /** Stops taking jobs and lets those in hand finish, for at most the grace. */
  close(): Promise<void>;
}

/**
 * Every worker of every role starts here: the queue's lock options from the catalog
 * (`WORKER_OPTIONS`), errors logged, and a bounded close. A job left unfinished by the close keeps
 * its lock until it expires and is then taken over by another worker (which fails the response as
 * interrupted, or retries a safe MCP call).
 */
export function startWorker(queue: QueueName, processor: Processor, o: StartWorkerOptions): RunningWorker {
  const lock = (WORKER_OPTIONS as Partial<Record<QueueName, object>>)[queue] ?? {};
  const worker = new Worker(queue, processor, { connection: o.connection, prefix: o.keys.bullPrefix, concurrency: o.concurrency, ...lock });
  worker.on('error', (err) => o.logger.error({ err, queue }, 'worker error'));
  return { worker, close: () => closeWithin(worker, o.graceMs, o.logger, queue) };
}

/**
 * BullMQ's `close(true)` cannot cut a graceful close short (a second close returns the first's
 * promise), so past the grace we stop waiting instead: the process goes on shutting down, its
 * connections close, the lock is no longer renewed, and the job is taken over once it expires.
 */
async function closeWithin(worker: Worker, graceMs: number, logger: Logger, queue: QueueName): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = worker.close().then(() => false);
  const timedOut = await Promise.race([
    graceful,
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    graceful.catch(() => undefined);
    logger.warn({ queue, graceMs }, 'jobs still running at shutdown: left for another worker to take over when their locks expire');
  }
}
