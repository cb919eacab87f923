import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteByPrefix, dockerEngineAnswers, provideRedis, spawnRedisServer, uniquePrefix } from './redis.ts';

function client(url: string): Redis {
  // Fail fast instead of reconnecting forever against a stopped server.
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => {});
  return r;
}

async function withClient<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = client(url);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('provideRedis', () => {
  it('uses REDIS_URL when set and never stops it', async () => {
    const provided = await provideRedis({ env: { REDIS_URL: 'redis://example.invalid:6380' } });
    expect(provided).toMatchObject({ url: 'redis://example.invalid:6380', source: 'env' });
    await provided.stop();
  });

  it('spawns a redis-server when there is no REDIS_URL and no Docker engine', async () => {
    // An env without REDIS_URL/DOCKER_HOST; a DOCKER_HOST nobody listens on rules out a local engine.
    const provided = await provideRedis({ env: { DOCKER_HOST: 'tcp://127.0.0.1:1' } });
    expect(provided.source).toBe('spawned');
    expect(provided.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(await withClient(provided.url, (r) => r.ping())).toBe('PONG');
    const port = Number(new URL(provided.url).port);
    await provided.stop();
    expect(await portAcceptsConnections(port)).toBe(false);
  });

  it('falls back to spawning when Docker answers but testcontainers is missing or fails', async () => {
    // A fake engine: answers the /_ping probe, so provideRedis goes on to testcontainers,
    // whose import (or container start against this fake) fails and must not be fatal.
    const dir = await mkdtemp(join(tmpdir(), 'spool-testkit-docker-'));
    const socketPath = join(dir, 'docker.sock');
    const fake = createHttpServer((_req, res) => res.end('OK'));
    await new Promise<void>((resolve) => fake.listen(socketPath, resolve));
    try {
      const env = { DOCKER_HOST: `unix://${socketPath}` };
      expect(await dockerEngineAnswers(env)).toBe(true);
      const provided = await provideRedis({ env });
      try {
        expect(provided.source).toBe('spawned');
        expect(await withClient(provided.url, (r) => r.ping())).toBe('PONG');
      } finally {
        await provided.stop();
      }
    } finally {
      await new Promise((resolve) => fake.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('probes Docker quickly and says no when nothing listens', async () => {
    const t0 = Date.now();
    expect(await dockerEngineAnswers({ DOCKER_HOST: 'tcp://127.0.0.1:1' })).toBe(false);
    expect(await dockerEngineAnswers({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' })).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('explains how to get Redis when nothing works', async () => {
    const PATH = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(provideRedis({ env: { DOCKER_HOST: 'tcp://127.0.0.1:1' } })).rejects.toThrow(/REDIS_URL[\s\S]*redis-server[\s\S]*not on PATH/);
    } finally {
      process.env.PATH = PATH;
    }
  });
});

describe('spawnRedisServer', () => {
  it('runs on a free loopback port, without persistence, and stops', async () => {
    const server = await spawnRedisServer();
    try {
      await withClient(server.url, async (r) => {
        expect(await r.ping()).toBe('PONG');
        expect(await r.config('GET', 'save')).toEqual(['save', '']);
        expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
        expect(await r.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
      });
    } finally {
      await server.stop();
    }
    expect(await portAcceptsConnections(server.port)).toBe(false);
    await server.stop(); // idempotent
  });

  it('restart() keeps port and AOF data, also after a crash (kill)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-testkit-aof-'));
    const server = await spawnRedisServer({ appendOnly: true, dir });
    try {
      await withClient(server.url, (r) => r.set('k1', 'v1'));
      await server.restart();
      expect(await withClient(server.url, (r) => r.get('k1'))).toBe('v1');

      await withClient(server.url, (r) => r.set('k2', 'v2'));
      server.kill(); // SIGKILL: no graceful shutdown
      await server.restart();
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      expect(await withClient(server.url, (r) => r.mget('k1', 'k2'))).toEqual(['v1', 'v2']);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('restart() without AOF comes back empty on the same port', async () => {
    const server = await spawnRedisServer();
    try {
      await withClient(server.url, (r) => r.set('k', 'v'));
      await server.restart();
      expect(await withClient(server.url, (r) => r.get('k'))).toBeNull();
    } finally {
      await server.stop();
    }
  });
});

describe('uniquePrefix', () => {
  it('is unique and safe for keys and BullMQ prefixes', () => {
    const a = uniquePrefix('my test {x}');
    const b = uniquePrefix('my test {x}');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^t:my-test-x:[a-z0-9]+$/);
    expect(uniquePrefix('')).toMatch(/^t:test:/);
  });
});

describe('deleteByPrefix', () => {
  let server: Awaited<ReturnType<typeof spawnRedisServer>>;
  beforeAll(async () => {
    server = await spawnRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('deletes only keys under the prefix, across many SCAN batches', async () => {
    const prefix = uniquePrefix('del');
    const other = uniquePrefix('keep');
    await withClient(server.url, async (r) => {
      const pipeline = r.pipeline();
      for (let i = 0; i < 2500; i++) pipeline.set(`${prefix}:k${i}`, '1');
      pipeline.set(other, 'stay');
      pipeline.set(`${prefix.slice(0, -1)}`, 'shorter prefix stays');
      await pipeline.exec();
    });
    await deleteByPrefix(server.url, prefix);
    await withClient(server.url, async (r) => {
      expect(await r.keys(`${prefix}*`)).toEqual([]);
      expect(await r.get(other)).toBe('stay');
      expect(await r.dbsize()).toBe(2);
    });
  });

  it('matches glob characters in the prefix literally', async () => {
    await withClient(server.url, (r) => r.mset('a*:1', 'x', 'ab:1', 'y', 'a?:1', 'z'));
    await deleteByPrefix(server.url, 'a*');
    await withClient(server.url, async (r) => {
      expect(await r.get('a*:1')).toBeNull();
      expect(await r.get('ab:1')).toBe('y');
      expect(await r.get('a?:1')).toBe('z');
    });
  });

  it('refuses an empty prefix', async () => {
    await expect(deleteByPrefix(server.url, '')).rejects.toThrow(/empty prefix/);
  });
});
