import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { stringify as toYaml } from 'yaml';
import { spawnRedis, type SpawnedRedis } from '@spool/runtime';
import { forkTs, type BenchChild } from './lib/child.ts';
import { CpuMeter, waitForQuiet } from './lib/proc.ts';
import type { FixturesReady } from './fixtures/process.ts';
import type { Options, ScenarioName } from './options.ts';
import type { SpoolReady } from './spool-process.ts';

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const RESULTS_DIR = resolve(BENCH_DIR, 'results');
export const PROFILES_DIR = resolve(RESULTS_DIR, 'profiles');

/** The key prefix of every bench Spool; the bench's Redis is its own, so nothing else lives there. */
export const BENCH_PREFIX = 'bench:';
export const SPOOL_API_KEY = 'bench-key';
/** The model name the scripted upstream answers for (any name works; this one reads well in logs). */
export const MODEL = 'scripted';
/** Other processes above this share of one core make a figure suspect (2 cores in all). */
export const QUIET_PERCENT = 25;

export interface BenchSpool {
  url: string;
  /** `<url>/v1`. */
  baseUrl: string;
  pid: number;
  profiled: boolean;
  /** Memory of the process that serves HTTP (where SSE readers live). */
  memory(): Promise<{ rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number }>;
  /** Per-process CPU meter over the Spool process(es), Redis, the fixtures and this runner. */
  cpuMeter(): CpuMeter;
  stop(): Promise<void>;
}

/** What every scenario gets: the options, the shared Redis and fixtures, and a way to start Spool. */
export interface Bench {
  opts: Options;
  redis: SpawnedRedis;
  upstreamUrl: string;
  mcpUrl: string;
  /** Measured window and warm-up of one load phase, in ms. */
  durationMs: number;
  warmupMs: number;
  /**
   * A fresh Spool on an emptied Redis, with these `limits` overrides: one process with every role,
   * or (`--topology split`) an api process and a workers process.
   */
  startSpool(scenario: ScenarioName, limits?: Record<string, number>): Promise<BenchSpool>;
  /** Waits (up to 2 phases, at most 30 s) for other processes to calm down; returns their % of a core. */
  quiet(): Promise<number | null>;
  close(): Promise<void>;
}

export async function openBench(opts: Options): Promise<Bench> {
  const redisDir = mkdtempSync(join(tmpdir(), 'spool-bench-redis-'));
  // Append-only on by default, as `npm start` runs its own redis-server: the bench pays for durability too.
  const aof = opts.redisAof === 'on';
  const redis = await spawnRedis({ dir: redisDir, appendOnly: aof });
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  let fixtures: BenchChild<FixturesReady>;
  try {
    fixtures = await forkTs<FixturesReady>(resolve(BENCH_DIR, 'fixtures/process.ts'), {
      env: { NODE_ENV: 'production' },
      execArgv: ['--expose-gc'],
      logFile: resolve(RESULTS_DIR, 'logs/fixtures.log'),
    });
  } catch (err) {
    admin.disconnect();
    await redis.stop();
    throw err;
  }
  const configDir = mkdtempSync(join(tmpdir(), 'spool-bench-config-'));
  const phaseSeconds = opts.duration;

  return {
    opts,
    redis,
    upstreamUrl: fixtures.ready.upstreamUrl,
    mcpUrl: fixtures.ready.mcpUrl,
    durationMs: phaseSeconds * 1000,
    warmupMs: Math.min(3000, Math.max(1000, phaseSeconds * 100)),
    startSpool: async (scenario, limits = {}) => {
      await resetRedis(admin, aof);
      const configPath = join(configDir, `${scenario}.yaml`);
      writeFileSync(configPath, toYaml({ limits }));
      const profiled = opts.profile === scenario;
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const start = (role: string, roles: string) =>
        forkTs<SpoolReady>(resolve(BENCH_DIR, 'spool-process.ts'), {
          env: {
            NODE_ENV: 'production',
            PORT: '0',
            HOST: '127.0.0.1',
            REDIS_URL: redis.url,
            SPOOL_ROLES: roles,
            SPOOL_PREFIX: BENCH_PREFIX,
            SPOOL_CONFIG: configPath,
            SPOOL_API_KEYS: SPOOL_API_KEY,
            SPOOL_DATA_DIR: configDir,
            SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1',
            UPSTREAM_BASE_URL: fixtures.ready.upstreamUrl,
            UPSTREAM_API_KEY: 'upstream-key',
            // The production default; Spool logs nothing per request at info.
            LOG_LEVEL: 'info',
          },
          // One directory per profiled process, Node's default file names: each thread writes its
          // own profile (tsx's loader hooks run on a second thread), and a fixed name would collide.
          execArgv: ['--expose-gc', ...opts.spoolNodeArgs, ...(profiled ? ['--cpu-prof', '--cpu-prof-dir', resolve(PROFILES_DIR, `${scenario}-${role}-${stamp}`)] : [])],
          logFile: resolve(RESULTS_DIR, `logs/spool-${scenario}-${role}.log`),
        });
      const children: Record<string, BenchChild<SpoolReady>> = {};
      try {
        if (opts.workers > 0) {
          children['spool-api'] = await start('api', 'api');
          for (let i = 1; i <= opts.workers; i++) children[`spool-worker-${i}`] = await start(`worker-${i}`, 'llm,mcp');
        } else if (opts.topology === 'one') children.spool = await start('all', 'api,llm,mcp');
        else {
          children['spool-api'] = await start('api', 'api');
          children['spool-workers'] = await start('workers', 'llm,mcp');
        }
      } catch (err) {
        await Promise.all(Object.values(children).map((c) => c.stop()));
        throw err;
      }
      const api = Object.values(children).find((c) => c.ready.url !== null);
      if (!api?.ready.url) throw new Error('no Spool process runs the api role');
      const url = api.ready.url;
      const pids: Record<string, number> = { redis: redis.pid as number, fixtures: fixtures.pid, runner: process.pid };
      for (const [name, c] of Object.entries(children)) pids[name] = c.pid;
      return {
        url,
        baseUrl: `${url}/v1`,
        pid: api.pid,
        profiled,
        memory: () => api.request('memory'),
        cpuMeter: () => new CpuMeter(pids),
        stop: async () => void (await Promise.all(Object.values(children).map((c) => c.stop()))),
      };
    },
    quiet: () => waitForQuiet([redis.pid as number, fixtures.pid, process.pid], QUIET_PERCENT, Math.min(30_000, phaseSeconds * 2000)),
    close: async () => {
      await fixtures.stop().catch(() => undefined);
      admin.disconnect();
      await redis.stop();
      rmSync(redisDir, { recursive: true, force: true });
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/**
 * Empties Redis and compacts its append-only file, so every scenario starts from the same state:
 * FLUSHALL alone leaves the file as large as the previous scenarios made it, and the automatic
 * rewrite it later triggers (a fork writing hundreds of MB) would land in the next scenario.
 */
async function resetRedis(admin: Redis, aof: boolean): Promise<void> {
  await admin.flushall();
  if (!aof) return;
  const inProgress = async () => /aof_rewrite_in_progress:1/.test(await admin.info('persistence'));
  const deadline = Date.now() + 30_000;
  while ((await inProgress()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await admin.bgrewriteaof();
  await new Promise((r) => setTimeout(r, 100));
  while ((await inProgress()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

export async function redisVersion(url: string): Promise<string> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await r.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    r.disconnect();
  }
}
