import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { stringify as toYaml } from 'yaml';
import { createLogger, loadConfig, type Config } from '@spool/runtime';
import { startSpool } from '@spool/spool';
import { deleteByPrefix, startScriptedUpstream, uniquePrefix, type ScriptedUpstream } from '@spool/testkit';

export interface TestSpool {
  url: string;
  baseURL: string;
  client: OpenAI;
  upstream: ScriptedUpstream;
  redisUrl: string;
  prefix: string;
  config: Config;
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
 * Runs every Spool role in this process, on the shared test Redis under a fresh key prefix, with
 * a scripted upstream model. `file` becomes the SPOOL_CONFIG YAML; `env` adds variables.
 */
export async function startTestSpool(
  opts: { env?: Record<string, string>; file?: Record<string, unknown>; name?: string; apiKey?: string; prefix?: string; keepData?: boolean; redisUrl?: string } = {},
): Promise<TestSpool> {
  const upstream = await startScriptedUpstream();
  // Reusing a prefix starts a new set of processes on the same state: a restart.
  const prefix = opts.prefix ?? `${uniquePrefix(opts.name ?? 'e2e')}:`;
  const redisUrl = opts.redisUrl ?? testRedisUrl();
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    SPOOL_PREFIX: prefix,
    UPSTREAM_BASE_URL: upstream.url,
    UPSTREAM_API_KEY: 'upstream-key',
    REDIS_URL: redisUrl,
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
  const spool = await startSpool(config, redisUrl, createLogger(config.logLevel));
  const url = spool.url as string;
  const baseURL = `${url}/v1`;
  const clientWith = (apiKey: string) => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
  return {
    url,
    baseURL,
    client: clientWith(opts.apiKey ?? 'test-key'),
    upstream,
    redisUrl,
    prefix,
    config,
    clientWith,
    close: async () => {
      await spool.close();
      await upstream.close();
      if (!opts.keepData) await deleteByPrefix(redisUrl, prefix);
    },
  };
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
