/**
 * Child process: Spool, every role in one process, exactly as `startSpool` wires it for `npm start`.
 *
 * Why a child process and not in the runner: the load generator parses thousands of responses and
 * SSE frames a second; on the same event loop that work would sit in Spool's latency (and Spool's
 * in the generator's timing), a CPU profile would mix both, and the idle-SSE memory figure would
 * include the 10,000 client sockets. Apart, `--cpu-prof` and `process.memoryUsage()` see Spool alone.
 * The environment (set by the runner) is the whole configuration, parsed once here as in main.ts.
 */
import { setPriority } from 'node:os';
import { createLogger, loadConfig } from '@spool/runtime';
import { startSpool } from '@spool/spool';
import { memorySample, serveParent } from './lib/child.ts';

export interface SpoolReady {
  /** null when this process runs no api role (split topology). */
  url: string | null;
}

// A worker process's lowered priority, as `npm start`'s supervisor sets it (SPOOL_WORKER_NICE; bench --worker-nice).
if (process.env.BENCH_NICE) setPriority(Number(process.env.BENCH_NICE));
const config = loadConfig(process.env);
if (!config.redisUrl) throw new Error('spool-process: REDIS_URL is required');
const logger = createLogger(config.logLevel);
const spool = await startSpool(config, config.redisUrl, logger);

serveParent({ memory: memorySample }, async () => {
  // BullMQ's worker.close() waits for active jobs; the idle-SSE scenario leaves turns parked on a
  // long upstream delay on purpose, so the close is bounded and the exit (and profile) happen anyway.
  await Promise.race([spool.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
});

const ready: SpoolReady = { url: spool.url };
process.send?.({ ready });
