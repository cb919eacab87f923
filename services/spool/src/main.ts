import { fork } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { redisTarget, type RedisTarget } from '@spool/redis';
import { ConfigError, createLogger, loadConfig, resolveRedis, RedisUnavailableError, Shutdown, type Config, type Logger } from '@spool/runtime';
import { listeningBanner } from './banner.ts';
import { withDemoModel } from './demo.ts';
import { startSpool, UnsafeRedisError } from './server.ts';
import { planChildren, supervises, Supervisor } from './supervisor.ts';

/**
 * `npm start`: with SPOOL_WORKERS > 0 (default: one per core) a supervisor of an api process and
 * SPOOL_WORKERS worker processes; with SPOOL_WORKERS=0 every role of SPOOL_ROLES in this process.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const shutdown = new Shutdown();
  const supervising = supervises(config);
  // A supervisor outlives its children's drain (each has 30 s), then stops the Redis it started.
  shutdown.installSignalHandlers(supervising ? 30_000 + 15_000 : 30_000, (name, err) => logger.error({ err, name }, 'shutdown step failed'));
  // A supervised child has its own process group (so a terminal's Ctrl-C reaches it only through
  // the supervisor, once) and an IPC channel to the supervisor: if that goes, the supervisor died
  // without telling it, and it drains as on SIGTERM rather than run on unsupervised.
  if (process.send) process.once('disconnect', () => void shutdown.run().then(() => process.exit(0)));

  let redis: { url: string | null; stop: () => Promise<void> };
  if (config.redisCluster || config.redisSentinel) {
    redis = { url: null, stop: async () => undefined };
    logger.info({ cluster: config.redisCluster, sentinel: config.redisSentinel }, 'redis');
  } else {
    try {
      const resolved = await resolveRedis(config.redisUrl, config.dataDir);
      redis = resolved;
      logger.info({ redis: resolved.url, source: resolved.source }, 'redis');
    } catch (err) {
      if (err instanceof RedisUnavailableError) {
        console.error(err.message);
        process.exit(1);
      }
      throw err;
    }
  }
  shutdown.add('redis', redis.stop);
  const target = redisTarget(config, redis.url);
  if (supervising) return supervise(config, target, shutdown, logger);

  const demo = await withDemoModel(config);
  shutdown.add('demo-model', demo.close);
  config = demo.config;
  if (demo.demoUrl) {
    console.log(
      [
        '',
        '  No upstream model is configured (UPSTREAM_BASE_URL / UPSTREAM_API_KEY / OPENAI_API_KEY unset),',
        `  so Spool is serving its built-in scripted DEMO model at ${demo.demoUrl}.`,
        '  It echoes your prompt; lines like "!words 50" or "!call get_weather {}" script it (see README).',
        '',
      ].join('\n'),
    );
  }

  let spool;
  try {
    spool = await startSpool(config, target, logger);
  } catch (err) {
    if (err instanceof UnsafeRedisError) {
      console.error(err.message);
      await shutdown.run();
      process.exit(2);
    }
    throw err;
  }
  shutdown.add('spool', spool.close);
  const roles = [...config.roles].join(',');
  if (spool.url) {
    if (spool.generatedApiKey) {
      console.log(
        [
          '',
          `  No API keys configured and Spool listens on ${config.host}, beyond loopback: it generated this key,`,
          '  kept in Redis and shared by every api process (set SPOOL_API_KEYS to choose your own):',
          `    SPOOL_API_KEY=${spool.generatedApiKey}`,
          '',
        ].join('\n'),
      );
    } else if (spool.usesGeneratedKey) {
      console.log('  No API keys configured: clients need the key generated when Spool first started on this Redis (printed then).');
    } else if (config.apiKeys.length === 0) {
      console.log(
        config.allowUnauthenticated
          ? '  WARNING: no API keys configured and SPOOL_ALLOW_UNAUTHENTICATED is set: anyone who can reach this port can use it.'
          : '  No API keys configured (SPOOL_API_KEYS): serving loopback clients only.',
      );
    }
    console.log(listeningBanner(spool.url, roles, config.apiKeys.length > 0 || spool.usesGeneratedKey).join('\n'));
  } else {
    console.log(`  Spool worker process running (roles: ${roles})`);
  }
}

/**
 * Runs the roles as supervised child processes (see supervisor.ts): each child is this same
 * program with SPOOL_WORKERS=0 and its roles, on the Redis resolved here (so a Redis that
 * `npm start` spawns is spawned once). SIGTERM (or Ctrl-C) drains every child, then stops Redis.
 */
async function supervise(config: Config, target: RedisTarget, shutdown: Shutdown, logger: Logger): Promise<void> {
  const redisEnv: Record<string, string> = 'url' in target ? { REDIS_URL: target.url } : {};
  const specs = planChildren(config, redisEnv);
  // This module itself: dist/spool.js on the compiled build (whoever imported it, such as
  // scripts/start.mjs), main.ts under tsx, whose loader flags come along in execArgv.
  const entry = fileURLToPath(import.meta.url);
  const supervisor = new Supervisor(
    specs,
    // The same entry and loader flags (tsx in development, plain node on the compiled build).
    (spec) => {
      const child = fork(entry, [], { env: { ...process.env, ...spec.env }, detached: true, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
      if (spec.nice > 0 && child.pid !== undefined) lowerPriority(child.pid, spec.nice, logger);
      return child;
    },
    {
      started: (name, pid) => logger.info({ child: name, pid }, 'child started'),
      exited: (name, code, signal, restartInMs) =>
        restartInMs === null ? logger.info({ child: name, code, signal }, 'child stopped') : logger.warn({ child: name, code, signal, restartInMs }, 'child exited; restarting'),
    },
    35_000,
  );
  supervisor.start();
  shutdown.add('children', () => supervisor.stop());
  const workers = specs.filter((s) => s.name !== 'api').length;
  console.log(
    `  Spool supervisor (pid ${process.pid}): ${config.roles.has('api') ? 'an api process and ' : ''}${workers} worker process${workers === 1 ? '' : 'es'} (SPOOL_WORKERS=${config.workers}; 0 runs everything in one process)`,
  );
}

/** Sets a child's nice value above this process's; a system that refuses (a container without the right) only loses the priority. */
function lowerPriority(pid: number, by: number, logger: Logger): void {
  try {
    setPriority(pid, Math.min(19, getPriority() + by));
  } catch (err) {
    logger.warn({ pid, err: (err as Error).message }, "could not lower a worker process's priority");
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
