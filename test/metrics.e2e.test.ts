import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@spool/runtime';
import { startSpool } from '@spool/spool';
import { deleteByPrefix, uniquePrefix, startTestMcpServer, type TestMcpServer } from '@spool/testkit';
import { families, sampleValue } from './support/prometheus.ts';
import { startTestSpool, testRedisUrl, until, untilTerminal, type TestSpool } from './support/spool.ts';

/** A Prometheus scrape of a running Spool on real Redis, driven by the `openai` client. */
const TOKEN = 'scrape-token-0123456789';
let spool: TestSpool;
let mcp: TestMcpServer;

beforeAll(async () => {
  mcp = await startTestMcpServer({});
  spool = await startTestSpool({
    name: 'metrics',
    env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' },
    file: { api_keys: ['user-key', { name: 'team-a', key: 'team-a-key', limits: { requests_per_minute: 100 } }], admin_keys: ['admin-key'], metrics_token: TOKEN, limits: { upstream_max_retries: 0 } },
    apiKey: 'user-key',
  });
});
afterAll(async () => {
  await spool?.close();
  await mcp?.close();
});

async function scrape(auth: string | null = TOKEN): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${spool.url}/metrics`, auth ? { headers: { Authorization: `Bearer ${auth}` } } : {});
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const FAMILIES = [
  'spool_responses_total',
  'spool_response_duration_seconds',
  'spool_turn_duration_seconds',
  'spool_upstream_request_duration_seconds',
  'spool_upstream_time_to_first_token_seconds',
  'spool_upstream_errors_total',
  'spool_mcp_calls_total',
  'spool_mcp_call_duration_seconds',
  'spool_queue_jobs',
  'spool_sse_streams',
  'spool_approvals_pending',
  'spool_webhook_deliveries_total',
  'spool_rate_limited_total',
  'spool_admission_rejected_total',
  'process_cpu_user_seconds_total',
  'nodejs_eventloop_lag_seconds',
];

describe('GET /metrics', () => {
  it('needs a key or the metrics token once keys are set, and is Prometheus text', async () => {
    expect((await scrape(null)).status).toBe(401);
    const wrong = await scrape('nope');
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text).error).toMatchObject({ code: 'invalid_api_key' });
    for (const auth of [TOKEN, 'user-key', 'admin-key']) expect((await scrape(auth)).status).toBe(200);
    expect((await scrape()).type).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('exposes every family from start-up, at zero, with bounded labels', async () => {
    const { text } = await scrape();
    const have = families(text);
    for (const f of FAMILIES) expect(have, f).toContain(f);
    expect(sampleValue(text, 'spool_responses_total', { status: 'completed', model: 'default' })).toBe(0);
    expect(sampleValue(text, 'spool_rate_limited_total', { key_name: 'team-a' })).toBe(0);
    expect(sampleValue(text, 'spool_queue_jobs', { queue: 'turns', state: 'waiting' })).toBe(0);
    expect(sampleValue(text, 'spool_approvals_pending')).toBe(0);
    expect(sampleValue(text, 'spool_webhook_deliveries_total', { status: 'dead' })).toBe(0);
  });

  it('counts a streamed response: sealed status, turn, upstream call and time to first token, by route (no ids, no raw model names)', async () => {
    const before = await scrape();
    const stream = await spool.client.responses.create({ model: 'some-model-name-xyz', input: '!words 5', stream: true });
    let id = '';
    for await (const e of stream) if (e.type === 'response.completed') id = e.response.id;
    const after = await until(async () => {
      const s = await scrape();
      return (sampleValue(s.text, 'spool_responses_total', { status: 'completed', model: 'default' }) ?? 0) >
        (sampleValue(before.text, 'spool_responses_total', { status: 'completed', model: 'default' }) ?? 0)
        ? s
        : null;
    });
    const delta = (name: string, labels: Record<string, string>) => (sampleValue(after.text, name, labels) ?? 0) - (sampleValue(before.text, name, labels) ?? 0);
    expect(delta('spool_responses_total', { status: 'completed', model: 'default' })).toBe(1);
    expect(delta('spool_response_duration_seconds_count', { status: 'completed' })).toBe(1);
    expect(delta('spool_turn_duration_seconds_count', { outcome: 'finished' })).toBe(1);
    expect(delta('spool_upstream_request_duration_seconds_count', { route: 'default' })).toBe(1);
    expect(delta('spool_upstream_time_to_first_token_seconds_count', { route: 'default' })).toBe(1);
    expect(after.text).not.toContain(id);
    expect(after.text).not.toContain('some-model-name-xyz');
  });

  it('counts upstream errors by status, and MCP calls by server', async () => {
    const before = await scrape();
    // Background: a synchronous request would get the upstream's 400 as its own HTTP status.
    const started = await spool.client.responses.create({ model: 'm', input: '!fail 400', background: true });
    expect((await untilTerminal(spool.client, started.id)).status).toBe('failed');
    const tools = [{ type: 'mcp' as const, server_label: 'anything-the-client-chose', server_url: mcp.url, require_approval: 'never' as const }];
    const called = await spool.client.responses.create({ model: 'm', input: '!call anything-the-client-chose__echo {"message":"hi"}', tools });
    expect(called.output.some((i) => i.type === 'mcp_call')).toBe(true);
    const after = await until(async () => {
      const s = await scrape();
      return (sampleValue(s.text, 'spool_mcp_calls_total', { server: 'request', status: 'ok' }) ?? 0) > (sampleValue(before.text, 'spool_mcp_calls_total', { server: 'request', status: 'ok' }) ?? 0)
        ? s
        : null;
    });
    const delta = (name: string, labels: Record<string, string>) => (sampleValue(after.text, name, labels) ?? 0) - (sampleValue(before.text, name, labels) ?? 0);
    expect(delta('spool_upstream_errors_total', { route: 'default', status: '400' })).toBe(1);
    expect(delta('spool_mcp_calls_total', { server: 'request', status: 'ok' })).toBe(1);
    expect(delta('spool_mcp_call_duration_seconds_count', { server: 'request' })).toBe(1);
    expect(after.text).not.toContain('anything-the-client-chose');
  });

  it('shows open SSE readers and pending approvals while they last', async () => {
    const tools = [{ type: 'mcp' as const, server_label: 't', server_url: mcp.url }];
    const parked = await spool.client.responses.create({ model: 'm', input: '!call t__delete_thing {"id":"1"}', tools });
    const request = parked.output.find((i) => i.type === 'mcp_approval_request');
    expect(request).toBeDefined();
    expect(sampleValue((await scrape()).text, 'spool_approvals_pending')).toBe(1);
    await spool.client.responses.create({ model: 'm', previous_response_id: parked.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: request!.id, approve: false }] });
    expect(sampleValue((await scrape()).text, 'spool_approvals_pending')).toBe(0);

    const bg = await spool.client.responses.create({ model: 'm', input: '!delay 1500\n!words 3', background: true });
    const abort = new AbortController();
    const reading = fetch(`${spool.baseURL}/responses/${bg.id}?stream=true`, { headers: { Authorization: 'Bearer user-key' }, signal: abort.signal })
      .then((r) => r.text())
      .catch(() => '');
    await until(async () => sampleValue((await scrape()).text, 'spool_sse_streams') === 1);
    abort.abort();
    await reading;
    await until(async () => sampleValue((await scrape()).text, 'spool_sse_streams') === 0);
  });
});

describe('a worker-only process', () => {
  it('serves /metrics on METRICS_PORT, behind the same keys', async () => {
    const prefix = `${uniquePrefix('metrics-worker')}:`;
    const redisUrl = testRedisUrl();
    const config = loadConfig({
      SPOOL_ROLES: 'llm,mcp',
      METRICS_PORT: '0',
      SPOOL_PREFIX: prefix,
      SPOOL_API_KEYS: 'k1',
      SPOOL_METRICS_TOKEN: TOKEN,
      UPSTREAM_BASE_URL: spool.upstream.url,
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
    });
    const worker = await startSpool(config, redisUrl, createLogger('silent'));
    try {
      expect(worker.url).toBeNull();
      const url = worker.metricsUrl as string;
      expect((await fetch(url)).status).toBe(401);
      const res = await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      const text = await res.text();
      for (const f of FAMILIES) expect(families(text), f).toContain(f);
    } finally {
      await worker.close();
      await deleteByPrefix(redisUrl, prefix);
    }
  });
});
