import { startScriptedUpstream } from '@spool/testkit';
import { ConfigError, createLogger, loadConfig, resolveRedis, RedisUnavailableError, Shutdown } from '@spool/runtime';
import { startSpool, UnsafeRedisError } from './server.ts';
import { listeningBanner } from './banner.ts';

/** `npm start`: every role in one process unless SPOOL_ROLES picks some. */
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
  shutdown.installSignalHandlers(30_000, (name, err) => logger.error({ err, name }, 'shutdown step failed'));

  let redis;
  try {
    redis = await resolveRedis(config.redisUrl, config.dataDir);
  } catch (err) {
    if (err instanceof RedisUnavailableError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  shutdown.add('redis', redis.stop);
  logger.info({ redis: redis.url, source: redis.source }, 'redis');

  if (!config.defaultUpstream && config.models.length === 0 && config.roles.has('llm')) {
    const demo = await startScriptedUpstream({ host: '127.0.0.1' });
    shutdown.add('demo-model', demo.close);
    config = { ...config, defaultUpstream: { baseUrl: demo.url, apiKey: 'demo', maxTokensParam: 'max_completion_tokens' as const } };
    console.log(
      [
        '',
        '  No upstream model is configured (UPSTREAM_BASE_URL / UPSTREAM_API_KEY / OPENAI_API_KEY unset),',
        `  so Spool is serving its built-in scripted DEMO model at ${demo.url}.`,
        '  It echoes your prompt; lines like "!words 50" or "!call get_weather {}" script it (see README).',
        '',
      ].join('\n'),
    );
  }

  let spool;
  try {
    spool = await startSpool(config, redis.url, logger);
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
    if (config.apiKeys.length === 0) {
      console.log(
        config.allowUnauthenticated
          ? '  WARNING: no API keys configured and SPOOL_ALLOW_UNAUTHENTICATED is set: anyone who can reach this port can use it.'
          : '  No API keys configured (SPOOL_API_KEYS): serving loopback clients only.',
      );
    }
    console.log(listeningBanner(spool.url, roles, config.apiKeys.length > 0).join('\n'));
  } else {
    console.log(`  Spool worker process running (roles: ${roles})`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
