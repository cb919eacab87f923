import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_WORKER_NICE } from '@spool/runtime';

export const SCENARIOS = ['latency', 'throughput', 'streaming', 'background', 'mcp', 'idle-sse', 'floor'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

const int = (min: number) => z.coerce.number().int().min(min);

/**
 * Everything the bench can be told, from flags and BENCH_* variables (flags win). Parsed once in
 * run.ts; every problem is listed at once. Defaults are the full run the issue describes.
 */
const OptionsSchema = z.object({
  only: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(SCENARIOS)).min(1))
    .default([...SCENARIOS]),
  /** Seconds of measured load per phase (direct and through Spool each get this much). */
  duration: int(1).max(600).default(30),
  /** Scenario whose Spool process runs with `--cpu-prof` (profiles land in bench/results/profiles). */
  profile: z.enum(SCENARIOS).optional(),
  /** Closed-loop clients in the throughput scenario. */
  concurrency: int(1).max(4096).default(32),
  /** Concurrent SSE streams in the streaming scenario, and deltas per stream. */
  streams: int(1).max(5000).default(200),
  deltas: int(1).max(10_000).default(50),
  /**
   * Arrival rate of background creates per second. `auto`: 90 % of the responses/s the throughput
   * scenario of this run measured with the same topology (the highest rate the machine completes),
   * else 250/s. A second phase runs at twice the rate: overload, where admission must answer fast.
   */
  rate: z.union([z.literal('auto'), int(1).max(20_000)]).default('auto'),
  /** Idle SSE readers, and the in-progress responses they are spread over. */
  idleReaders: int(1).max(18_000).default(10_000),
  idleResponses: int(1).max(10_000).default(1_000),
  /** Words per answer in the non-streaming rows (one upstream chunk each). */
  words: int(1).max(10_000).default(10),
  /**
   * The processes every scenario runs, as `npm start` does: > 0 is an api process plus this many
   * worker processes (llm,mcp each; `services/spool/src/supervisor.ts`), 0 one process with every
   * role (SPOOL_WORKERS=0). Default: one worker per core, `npm start`'s default.
   */
  workers: int(0).max(64).default(availableParallelism()),
  /** The topologies (worker counts, 0 = one process) the throughput and background scenarios run side by side. */
  compareWorkers: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
        .map(Number),
    )
    .pipe(z.array(z.number().int().min(0).max(64)))
    .default([1, 2, 0]),
  /** How much lower the worker processes' priority is than the api's, as `npm start` sets it (SPOOL_WORKER_NICE); 0 for the A/B. */
  workerNice: int(0).max(19).default(DEFAULT_WORKER_NICE),
  /** Redis's append-only file: on as `npm start` runs its own Redis (every write also goes to disk). */
  redisAof: z.enum(['on', 'off']).default('on'),
  /** Rewrite BENCHMARKS.md from bench/results/latest.json and bench/findings.md, without running. */
  reportOnly: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .default(false),
  /** Extra node flags for the Spool process(es), e.g. a preload from bench/experiments/. */
  spoolNodeArgs: z
    .string()
    .transform((s) => s.split(/\s+/).filter(Boolean))
    .default([]),
});
export type Options = z.infer<typeof OptionsSchema>;

const FLAG_TO_KEY: Record<string, keyof Options> = {
  only: 'only',
  duration: 'duration',
  profile: 'profile',
  concurrency: 'concurrency',
  streams: 'streams',
  deltas: 'deltas',
  rate: 'rate',
  'idle-readers': 'idleReaders',
  'idle-responses': 'idleResponses',
  words: 'words',
  workers: 'workers',
  'compare-workers': 'compareWorkers',
  'worker-nice': 'workerNice',
  'spool-node-args': 'spoolNodeArgs',
  'redis-aof': 'redisAof',
  'report-only': 'reportOnly',
};

export const USAGE = `npm run bench [-- --only latency,streaming] [--duration 5] [--profile throughput]
  flags (or env):  --only (BENCH_ONLY)  ${SCENARIOS.join(',')}
                   --duration S (BENCH_DURATION, default 30)   measured seconds per phase
                   --profile SCENARIO (BENCH_PROFILE)           --cpu-prof the Spool process of that scenario
                   --concurrency N (BENCH_CONCURRENCY, 32)  --streams N (BENCH_STREAMS, 200)  --deltas N (BENCH_DELTAS, 50)
                   --rate N|auto (BENCH_RATE, auto)  --idle-readers N (BENCH_IDLE_READERS, 10000)
                   --idle-responses N (BENCH_IDLE_RESPONSES, 1000)  --words N (BENCH_WORDS, 10)
                   --workers N (BENCH_WORKERS, cores)   an api process plus N worker processes, as npm start runs them; 0: one process
                   --compare-workers 1,2,0 (BENCH_COMPARE_WORKERS)   topologies throughput and background run side by side
                   --worker-nice N (BENCH_WORKER_NICE, ${DEFAULT_WORKER_NICE})   the workers' nice value, as SPOOL_WORKER_NICE
                   --redis-aof on|off (BENCH_REDIS_AOF, on)   Redis append-only file, as npm start runs it
                   --spool-node-args "..." (BENCH_SPOOL_NODE_ARGS)  extra node flags for Spool, e.g. an experiment preload
                   --report-only   rewrite BENCHMARKS.md from bench/results/latest.json and bench/findings.md`;

export class OptionsError extends Error {
  override readonly name = 'OptionsError';
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>): Options {
  const raw: Record<string, string> = {};
  for (const [flag, key] of Object.entries(FLAG_TO_KEY)) {
    const v = env[`BENCH_${flag.toUpperCase().replace(/-/g, '_')}`];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') throw new OptionsError(USAGE);
    if (arg === '--report-only') {
      raw.reportOnly = 'true';
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const key = m ? FLAG_TO_KEY[m[1] as string] : undefined;
    if (!m || !key) {
      problems.push(`unknown argument '${arg}'`);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) problems.push(`--${m[1]} needs a value`);
    else raw[key] = value;
  }
  const parsed = OptionsSchema.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  if (problems.length > 0 || !parsed.success) throw new OptionsError(`${problems.join('\n')}\n\n${USAGE}`);
  return parsed.data;
}
