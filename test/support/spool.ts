import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import OpenAI from 'openai';
import { stringify as toYaml } from 'yaml';
import { createKeys, type Keys } from '@spool/contracts';
import { connect, isCluster, waitReady, type RedisClient, type RedisTarget } from '@spool/redis';
import { createLogger, loadConfig, type Config } from '@spool/runtime';
import { startSpool } from '@spool/spool';
import { deleteByPrefix, startScriptedUpstream, uniquePrefix, type ScriptedUpstream } from '@spool/testkit';

export interface TestSpool {
  url: string;
  baseURL: string;
  client: OpenAI;
  upstream: ScriptedUpstream;
  /** The standalone test Redis ('' on a cluster or behind Sentinels: use redisTarget). */
  redisUrl: string;
  redisTarget: RedisTarget;
  prefix: string;
  /** The key builder this Spool uses (on a cluster, BullMQ's prefix is hash-tagged). */
  keys: Keys;
  config: Config;
  /** A connection of our own to the same Redis (or cluster); disconnect it when done. */
  connectRedis(): RedisClient;
  /** A client with another API key (or none). */
  clientWith(apiKey: string): OpenAI;
  close(): Promise<void>;
}

export function testRedisUrl(): string {
  const url = process.env.SPOOL_TEST_REDIS_URL ?? process.env.REDIS_URL;
  if (!url) throw new Error('No test Redis: the vitest globalSetup sets SPOOL_TEST_REDIS_URL');
  return url;
}

/**
 * The Redis this suite runs on: the cluster that the `cluster` vitest project starts (it sets
 * SPOOL_TEST_ON_CLUSTER in its workers, and its global setup the nodes), else the standalone one.
 */
export function testRedisTarget(): RedisTarget {
  const nodes = process.env.SPOOL_TEST_REDIS_CLUSTER_NODES;
  if (process.env.SPOOL_TEST_ON_CLUSTER === '1') {
    if (!nodes) throw new Error('No test cluster: the cluster global setup sets SPOOL_TEST_REDIS_CLUSTER_NODES');
    return { cluster: nodes.split(',').map((n) => ({ host: n.split(':')[0] as string, port: Number(n.split(':')[1]) })) };
  }
  return { url: testRedisUrl() };
}

/** The environment that points a Spool process at `target`, as a user would set it. */
export function redisEnv(target: RedisTarget = testRedisTarget()): Record<string, string> {
  const list = (nodes: ReadonlyArray<{ host: string; port: number }>) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (isCluster(target)) return { REDIS_CLUSTER_NODES: list(target.cluster) };
  if ('sentinels' in target) return { REDIS_SENTINELS: list(target.sentinels), REDIS_SENTINEL_NAME: target.name };
  return { REDIS_URL: target.url };
}

/** Deletes a test's keys: under its prefix, and on a cluster BullMQ's hash-tagged `{prefix…}` too. */
export async function deleteTestData(target: RedisTarget, prefix: string): Promise<void> {
  if ('url' in target) return deleteByPrefix(target.url, prefix);
  if ('sentinels' in target) {
    // Through the Sentinels to whichever node is master now.
    const redis = connect(target, 'queue');
    try {
      await Promise.all((await keysUnder(redis, prefix)).map((k) => redis.unlink(k)));
    } finally {
      redis.disconnect();
    }
    return;
  }
  await deleteByPrefix({ cluster: [...target.cluster] }, prefix);
  await deleteByPrefix({ cluster: [...target.cluster] }, `{${prefix}`);
}

/**
 * Runs every Spool role in this process, on the shared test Redis under a fresh key prefix, with
 * a scripted upstream model. `file` becomes the SPOOL_CONFIG YAML; `env` adds variables.
 */
export async function startTestSpool(
  opts: { env?: Record<string, string>; file?: Record<string, unknown>; name?: string; apiKey?: string; prefix?: string; keepData?: boolean; redisUrl?: string; redisTarget?: RedisTarget } = {},
): Promise<TestSpool> {
  const upstream = await startScriptedUpstream();
  // Reusing a prefix starts a new set of processes on the same state: a restart.
  const prefix = opts.prefix ?? `${uniquePrefix(opts.name ?? 'e2e')}:`;
  const target: RedisTarget = opts.redisTarget ?? (opts.redisUrl ? { url: opts.redisUrl } : testRedisTarget());
  const redisUrl = 'url' in target ? target.url : '';
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    SPOOL_PREFIX: prefix,
    UPSTREAM_BASE_URL: upstream.url,
    UPSTREAM_API_KEY: 'upstream-key',
    ...redisEnv(target),
    LOG_LEVEL: process.env.SPOOL_TEST_LOG_LEVEL ?? 'silent',
    ...opts.env,
  };
  if (opts.file) {
    const dir = mkdtempSync(join(tmpdir(), 'spool-config-'));
    const path = join(dir, 'spool.yaml');
    writeFileSync(path, toYaml(opts.file));
    env.SPOOL_CONFIG = path;
  }
  const config = loadConfig(env);
  const spool = await startSpool(config, target, createLogger(config.logLevel));
  const url = spool.url as string;
  const baseURL = `${url}/v1`;
  const clientWith = (apiKey: string) => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
  return {
    url,
    baseURL,
    client: clientWith(opts.apiKey ?? 'test-key'),
    upstream,
    redisUrl,
    redisTarget: target,
    prefix,
    keys: createKeys(prefix, { cluster: isCluster(target) }),
    config,
    clientWith,
    connectRedis: () => connect(target, 'queue'),
    close: async () => {
      await spool.close();
      await upstream.close();
      if (!opts.keepData) await deleteTestData(target, prefix);
    },
  };
}

/**
 * Every key under `prefix` (and BullMQ's hash-tagged `{prefix…}` keys), read by SCAN on every
 * master of a cluster: KEYS or one SCAN on a cluster would see one shard only.
 */
export async function keysUnder(redis: RedisClient, prefix: string): Promise<string[]> {
  await waitReady(redis, 10_000); // a cluster knows its masters only once it is ready
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found: string[] = [];
  for (const node of nodes) {
    for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
    }
  }
  return found;
}

/** Reads a raw SSE body into frames, checking the framing rules on the way. */
export async function readSse(res: globalThis.Response): Promise<{ frames: Array<{ event: string | null; data: string }>; comments: string[]; raw: string }> {
  const raw = await res.text();
  const frames: Array<{ event: string | null; data: string }> = [];
  const comments: string[] = [];
  for (const block of raw.split('\n\n')) {
    if (block === '') continue;
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) frames.push({ event, data: data.join('\n') });
  }
  return { frames, comments, raw };
}

/** The JSON events of a stream, without the `[DONE]` sentinel. */
export function eventsOf(frames: Array<{ data: string }>): Array<Record<string, unknown> & { type: string; sequence_number: number }> {
  return frames.filter((f) => f.data !== '[DONE]').map((f) => JSON.parse(f.data));
}

export async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Polls a response until it leaves queued/in_progress. */
export function untilTerminal(client: OpenAI, id: string, timeoutMs = 45_000): Promise<OpenAI.Responses.Response> {
  return until(
    async () => {
      const r = await client.responses.retrieve(id);
      return r.status === 'queued' || r.status === 'in_progress' ? null : r;
    },
    timeoutMs,
    200,
  );
}
