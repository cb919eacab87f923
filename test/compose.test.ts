import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@spool/runtime';
import { composeEnvironments, interpolate } from './support/compose.ts';

/**
 * The compose files, loaded the way their containers load them: each Spool service's
 * environment, after compose's interpolation of the caller's shell, through `loadConfig`.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COMPOSE = join(ROOT, 'docker-compose.yml');
const CLUSTER = join(ROOT, 'docker-compose.cluster.yml');

const hasCompose = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;

describe('interpolate', () => {
  it('follows compose: `:-` also replaces an empty value, `-` only an unset one', () => {
    expect(interpolate('${A:-d}|${B:-d}|${A-d}|${B-d}|${C}|$$x', { B: '' })).toBe('d|d|d|||$x');
  });
});

describe.each([
  ['docker-compose.yml', COMPOSE],
  ['docker-compose.cluster.yml', CLUSTER],
])('%s', (_name, file) => {
  it('starts every Spool service with nothing set: the demo model, no default key, api and workers apart', () => {
    const services = composeEnvironments(file, {});
    expect(Object.keys(services).sort()).toEqual(['api', 'llm', 'mcp']);
    const configs = Object.fromEntries(Object.entries(services).map(([name, env]) => [name, loadConfig(env)]));
    for (const c of Object.values(configs)) {
      expect(c.demoModel).toBe(true);
      expect(c.apiKeys).toEqual([]);
      expect(c.allowUnauthenticated).toBe(false);
    }
    expect([...configs.api!.roles]).toEqual(['api']);
    expect(configs.api!.host).toBe('0.0.0.0');
    expect([...configs.llm!.roles]).toEqual(['llm']);
    expect([...configs.mcp!.roles]).toEqual(['mcp']);
    // Worker containers use every core (SPOOL_WORKERS unset: one process per core).
    expect(configs.llm!.workers).toBeGreaterThanOrEqual(1);
  });

  it('reaches OpenAI with OPENAI_API_KEY alone', () => {
    for (const env of Object.values(composeEnvironments(file, { OPENAI_API_KEY: 'sk-only-this' }))) {
      const c = loadConfig(env);
      expect(c.defaultUpstream).toMatchObject({ baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-only-this' });
      expect(c.demoModel).toBe(false);
    }
  });

  it('passes keys and an upstream through when they are set', () => {
    const env = composeEnvironments(file, { SPOOL_API_KEYS: 'k1,k2', UPSTREAM_BASE_URL: 'http://ollama:11434/v1', SPOOL_WORKERS: '3' }).llm!;
    expect(loadConfig(env)).toMatchObject({ apiKeys: ['k1', 'k2'], defaultUpstream: { baseUrl: 'http://ollama:11434/v1' }, workers: 3 });
  });

  it.skipIf(!hasCompose)('is valid for `docker compose config`', () => {
    const run = spawnSync('docker', ['compose', '-f', file, 'config', '--quiet'], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('docker-compose.cluster.yml', () => {
  it('points every Spool service at the three cluster nodes', () => {
    for (const env of Object.values(composeEnvironments(CLUSTER, {}))) {
      const c = loadConfig(env);
      expect(c.redisCluster).toHaveLength(3);
      expect(c.redisUrl).toBeNull();
    }
  });
});
