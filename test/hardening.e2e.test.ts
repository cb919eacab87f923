import { request as httpRequest } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@spool/runtime';
import { startSpool, UnsafeRedisError } from '@spool/spool';
import { spawnRedisServer, startScriptedUpstream, uniquePrefix, type SpawnedRedis, startEverything, type EverythingServer } from '@spool/testkit';
import { startTestSpool, type TestSpool } from './support/spool.ts';

/**
 * What an attacker or a careless operator tries, each point once: a page on another origin, a
 * body that is not JSON, nesting that no walk survives, ids that are not percent-encoding, a
 * Redis that is full or evicts.
 */

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request exactly as given (fetch would refuse to set Host, and normalise some URLs). */
function raw(url: string, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Raw> {
  const base = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end(opts.body);
  });
}

function errorOf(r: Raw): { message: string; type: string; param: string | null; code: string | null } {
  const parsed = JSON.parse(r.body) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(Object.keys(parsed.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return parsed.error;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const body = (over: Record<string, unknown> = {}) => JSON.stringify({ model: 'm', input: 'hello', ...over });

/** A JSON schema nested `depth` objects deep, as text (JSON.stringify itself overflows past a few thousand). */
function nestedJson(depth: number): string {
  return `${'{"type":"object","properties":{"a":'.repeat(depth)}{"type":"string"}${'}}'.repeat(depth)}`;
}
const nested = (depth: number): Record<string, unknown> => JSON.parse(nestedJson(depth)) as Record<string, unknown>;

describe('browsers, on a server without API keys', () => {
  let spool: TestSpool;
  beforeAll(async () => {
    spool = await startTestSpool({ name: 'browsers', file: { limits: { max_instructions_chars: 1000 } } });
  });
  afterAll(() => spool?.close());

  it('sends no CORS headers to any origin by default', async () => {
    const preflight = await raw(spool.url, {
      method: 'OPTIONS',
      path: '/v1/responses',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const get = await raw(spool.url, { path: '/v1/responses/resp_x', headers: { origin: 'http://localhost:3000' } });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses a request from a page on a non-loopback origin with 403, and runs nothing', async () => {
    const before = spool.upstream.requests.length;
    for (const origin of ['https://evil.example', 'http://192.168.1.10:8080', 'null']) {
      const r = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers: { ...JSON_HEADERS, origin }, body: body() });
      expect(r.status).toBe(403);
      expect(errorOf(r)).toMatchObject({ type: 'permission_error', code: 'origin_not_allowed' });
    }
    expect(spool.upstream.requests.length).toBe(before);
  });

  it('refuses a Host that is not a loopback name (what a DNS-rebinding page sends)', async () => {
    const r = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers: { ...JSON_HEADERS, host: 'rebind.evil.example:8080' }, body: body() });
    expect(r.status).toBe(403);
    expect(errorOf(r).code).toBe('host_not_allowed');
    const ok = await raw(spool.url, {
      method: 'POST',
      path: '/v1/responses',
      headers: { ...JSON_HEADERS, host: `localhost:${new URL(spool.url).port}`, origin: 'http://localhost:5173' },
      body: body(),
    });
    expect(ok.status).toBe(200);
  });

  it('takes only JSON bodies: text/plain, forms and untyped bodies are a 415', async () => {
    const before = spool.upstream.requests.length;
    for (const headers of [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      {} as Record<string, string>,
    ]) {
      const r = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers, body: body() });
      expect(r.status).toBe(415);
      expect(errorOf(r)).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_media_type' });
    }
    expect(spool.upstream.requests.length).toBe(before);
    // A body-less POST (the SDK's cancel) and `application/json; charset=utf-8` still pass.
    const typed = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers: { 'content-type': 'application/json; charset=utf-8' }, body: body() });
    expect(typed.status).toBe(200);
  });

  it('refuses JSON nested deeper than the limit with a 400 naming where, before anything walks it', async () => {
    const deep = await raw(spool.url, {
      method: 'POST',
      path: '/v1/responses',
      headers: JSON_HEADERS,
      body: `{"model":"m","input":"hi","background":true,"text":{"format":{"type":"json_schema","name":"deep","schema":${nestedJson(3500)}}}}`,
    });
    expect(deep.status).toBe(400);
    expect(errorOf(deep)).toMatchObject({ code: 'nesting_too_deep', param: 'text.format.schema.properties' });
    const tools = await raw(spool.url, {
      method: 'POST',
      path: '/v1/responses',
      headers: JSON_HEADERS,
      body: body({ tools: [{ type: 'function', name: 'f', parameters: nested(80) }] }),
    });
    expect(tools.status).toBe(400);
    expect(errorOf(tools).param).toBe('tools[0].parameters.properties');
    // A million brackets parse, and are refused the same way (no stack overflow anywhere).
    const brackets = await raw(spool.url, { method: 'POST', path: '/v1/chat/completions', headers: JSON_HEADERS, body: `{"model":"m","messages":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}` });
    expect(brackets.status).toBe(400);
    expect(errorOf(brackets).code).toBe('nesting_too_deep');
    // A schema of ordinary depth is fine.
    const fine = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers: JSON_HEADERS, body: body({ text: { format: { type: 'json_schema', name: 'ok', schema: nested(20) } } }) });
    expect(fine.status).toBe(200);
  });

  it('answers a body it cannot read (a corrupt gzip body) with a 400 that says so, never a 500', async () => {
    const r = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers: { ...JSON_HEADERS, 'content-encoding': 'gzip' }, body: 'not gzip at all' });
    expect(r.status).toBe(400);
    expect(errorOf(r)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_body' });
  });

  it('bounds instructions (limits.max_instructions_chars)', async () => {
    const r = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers: JSON_HEADERS, body: body({ instructions: 'x'.repeat(1001) }) });
    expect(r.status).toBe(400);
    expect(errorOf(r)).toMatchObject({ param: 'instructions', code: 'string_above_max_length' });
  });

  it('answers ids that are not valid percent-encoding with a 400, on every route that takes an id', async () => {
    for (const id of ['%zz', '%E0%A4%A', '%ED%A0%80', '%C0%80', '%']) {
      for (const [method, path] of [
        ['GET', `/v1/responses/${id}`],
        ['GET', `/v1/responses/${id}/input_items`],
        ['POST', `/v1/responses/${id}/cancel`],
        ['DELETE', `/v1/responses/${id}`],
      ] as const) {
        const r = await raw(spool.url, { method, path });
        expect(r.status, `${method} ${path}`).toBeLessThan(500);
        expect([400, 404]).toContain(r.status);
        errorOf(r);
      }
    }
  });
});

describe('CORS for listed origins', () => {
  let spool: TestSpool;
  beforeAll(async () => {
    spool = await startTestSpool({ name: 'cors', file: { api_keys: ['k1'], cors: { allow_origins: ['https://app.example.com'] } }, apiKey: 'k1' });
  });
  afterAll(() => spool?.close());

  it('answers a listed origin with its own name (never *), and other origins with nothing', async () => {
    const allowed = await raw(spool.url, {
      method: 'OPTIONS',
      path: '/v1/responses',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(String(allowed.headers['access-control-allow-headers'])).toMatch(/Authorization/);
    expect(allowed.headers.vary).toMatch(/Origin/);
    const other = await raw(spool.url, { method: 'OPTIONS', path: '/v1/responses', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    // With keys set, a foreign origin is not refused outright: the key decides, CORS hides the answer.
    const keyed = await raw(spool.url, { method: 'POST', path: '/v1/responses', headers: { ...JSON_HEADERS, origin: 'https://evil.example', authorization: 'Bearer k1' }, body: body() });
    expect(keyed.status).toBe(200);
    expect(keyed.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('Redis under pressure', () => {
  let redis: SpawnedRedis;
  let admin: Redis;
  beforeAll(async () => {
    redis = await spawnRedisServer();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it('answers OOM with a 503 and Retry-After, logs no prompt, and recovers when memory is back', async () => {
    const upstream = await startScriptedUpstream();
    const lines: string[] = [];
    const prefix = `${uniquePrefix('oom')}:`;
    const config = loadConfig({ PORT: '0', SPOOL_PREFIX: prefix, UPSTREAM_BASE_URL: upstream.url, UPSTREAM_API_KEY: 'k', REDIS_URL: redis.url, LOG_LEVEL: 'info' });
    const spool = await startSpool(config, redis.url, createLogger('info', {}, { write: (s: string) => void lines.push(s) }));
    try {
      const secret = 'the-secret-prompt-4f1c9';
      await admin.config('SET', 'maxmemory', '1');
      for (const extra of [{}, { background: true }, { stream: true }]) {
        const r = await raw(spool.url as string, { method: 'POST', path: '/v1/responses', headers: JSON_HEADERS, body: body({ input: secret, instructions: `${secret} instructions`, ...extra }) });
        expect(r.status).toBe(503);
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        expect(errorOf(r)).toMatchObject({ type: 'service_unavailable', code: 'service_unavailable' });
        expect(errorOf(r).message).toMatch(/storage is full/);
      }
      expect(lines.some((l) => l.includes('request failed'))).toBe(true);
      expect(lines.join('\n')).not.toContain(secret);
      await admin.config('SET', 'maxmemory', '0');
      const ok = await raw(spool.url as string, { method: 'POST', path: '/v1/responses', headers: JSON_HEADERS, body: body() });
      expect(ok.status).toBe(200);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      await spool.close();
      await upstream.close();
    }
  });

  it('refuses to start on a Redis whose maxmemory-policy evicts keys, with the fix in the message, unless allowed', async () => {
    const env = { PORT: '0', SPOOL_PREFIX: `${uniquePrefix('evict')}:`, UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', REDIS_URL: redis.url, LOG_LEVEL: 'silent' };
    for (const policy of ['allkeys-lru', 'volatile-ttl']) {
      await admin.config('SET', 'maxmemory-policy', policy);
      const started = startSpool(loadConfig(env), redis.url, createLogger('silent'));
      await expect(started).rejects.toBeInstanceOf(UnsafeRedisError);
      await expect(started).rejects.toThrow(/CONFIG SET maxmemory-policy noeviction/);
    }
    const allowed = await startSpool(loadConfig({ ...env, SPOOL_REDIS_ALLOW_EVICTION: 'true' }), redis.url, createLogger('silent'));
    await allowed.close();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
  });
});

describe('MCP results are bounded', () => {
  let spool: TestSpool;
  let everything: EverythingServer;
  beforeAll(async () => {
    everything = await startEverything('streamable-http');
    spool = await startTestSpool({ name: 'mcp-bound', env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' }, file: { limits: { max_mcp_result_bytes: 1024 } } });
  }, 60_000);
  afterAll(async () => {
    await spool?.close();
    await everything?.close();
  });

  it('fails a call whose result is over limits.max_mcp_result_bytes, keeps it out of the model context, and the response goes on', async () => {
    const tools = [{ type: 'mcp' as const, server_label: 'everything', server_url: everything.url as string, require_approval: 'never' as const }];
    const big = 'x'.repeat(2000);
    const r = await spool.client.responses.create({ model: 'm', input: `!call everything__echo {"message":"${big}"}`, tools });
    expect(r.status).toBe('completed');
    const call = r.output.find((i) => i.type === 'mcp_call');
    expect(call).toMatchObject({ type: 'mcp_call', status: 'failed', output: null });
    expect(JSON.stringify(call)).toMatch(/too large: \d+ bytes, over the limit of 1024/);
    // The model's next turn saw the failure, not the payload.
    const toolMessages = (spool.upstream.requests.at(-1)?.messages ?? []).filter((m) => m.role === 'tool');
    expect(toolMessages).toHaveLength(1);
    expect(JSON.stringify(toolMessages[0])).toMatch(/too large/);
    expect(JSON.stringify(toolMessages[0])).not.toContain(big);
    const small = await spool.client.responses.create({ model: 'm', input: '!call everything__echo {"message":"tiny"}', tools });
    expect(small.output.find((i) => i.type === 'mcp_call')).toMatchObject({ status: 'completed' });
  });
});
