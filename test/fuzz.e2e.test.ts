import fc from 'fast-check';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSpool, type TestSpool } from './support/spool.ts';

/**
 * Property: whatever a client sends, Spool answers with an OpenAI-shaped error or a valid answer,
 * never a 5xx; the process stays up; every response it accepted ends. Valid requests are mutated
 * at one or two places (wrong types, nulls, huge and negative numbers, unknown item and tool
 * types, deep nesting, long strings, lone surrogates) and posted to a running Spool on a real Redis.
 *
 * Bounded: a few hundred cases in all, a fixed seed (FUZZ_SEED overrides it); fast-check prints
 * the seed and the shrunk counterexample on failure, so a run can be replayed exactly.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

let spool: TestSpool;
/** Background responses Spool accepted: each must reach a terminal status. */
const accepted = new Set<string>();

beforeAll(async () => {
  spool = await startTestSpool({ name: 'fuzz', file: { limits: { upstream_max_retries: 0 } } });
});
afterAll(() => spool?.close());

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values a careless or hostile client puts where something else belongs. */
const weird: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom(-1, 0, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1, 0.5, -0),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800', '💥'.repeat(1000), 'x'.repeat(300_000), '!delay 1', 'resp_' + 'f'.repeat(48), 'litellm_proxy', '__proto__', 'constructor'),
  fc.constantFrom<Json>(
    { type: 'unknown_type' },
    { type: 'message' },
    { type: 'mcp', server_label: 'x' },
    { type: 'mcp', server_label: 'x', server_url: 'http://169.254.169.254/latest' },
    { type: 'function' },
    { type: 'json_schema' },
    { __proto__: { polluted: true } } as unknown as Json,
    [],
    {},
  ),
  fc.integer({ min: 1, max: 200 }).map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as Json),
  fc.integer({ min: 1, max: 120 }).map((depth) => JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`) as Json),
  // Deeper than JSON.stringify survives: a marker that `post` swaps for the nested text.
  fc.integer({ min: 1000, max: 5000 }).map((depth) => `__DEEP_${depth}__`),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)), { maxLength: 300 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)), { maxKeys: 20 }),
);

const RESPONSES_BASE = {
  model: 'm',
  input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello' }] }],
  instructions: 'be brief',
  tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }],
  text: { format: { type: 'json_schema', name: 's', schema: { type: 'object' } } },
  reasoning: { effort: 'low' },
  metadata: { k: 'v' },
  background: true,
};
const RESPONSES_PATHS = [
  'model',
  'input',
  'input.0',
  'input.0.type',
  'input.0.role',
  'input.0.content',
  'input.0.content.0',
  'input.0.content.0.type',
  'input.0.content.0.text',
  'instructions',
  'previous_response_id',
  'background',
  'stream',
  'store',
  'tools',
  'tools.0',
  'tools.0.type',
  'tools.0.name',
  'tools.0.parameters',
  'tool_choice',
  'parallel_tool_calls',
  'max_output_tokens',
  'max_tool_calls',
  'metadata',
  'metadata.k',
  'temperature',
  'top_p',
  'top_logprobs',
  'truncation',
  'text',
  'text.format',
  'text.format.type',
  'text.format.schema',
  'text.format.schema.properties',
  'text.verbosity',
  'reasoning',
  'reasoning.effort',
  'service_tier',
  'user',
  'include',
  'conversation',
  'stream_options',
  'prompt_cache_key',
  'safety_identifier',
  'unknown_field',
];
const CHAT_BASE = {
  model: 'm',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hello' },
  ],
  tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }],
};
const CHAT_PATHS = [
  'model',
  'messages',
  'messages.0',
  'messages.1.role',
  'messages.1.content',
  'messages.1.tool_calls',
  'messages.1.name',
  'tools',
  'tools.0.type',
  'tools.0.function',
  'tools.0.function.parameters',
  'tool_choice',
  'stream',
  'stream_options',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'response_format',
  'stop',
  'seed',
  'logprobs',
  'top_logprobs',
  'mcp_approval_responses',
  'user',
  'reasoning_effort',
  'unknown_field',
];

/** A copy of `base` with `value` put at `path` (a dotted path; digits index arrays). */
function setAt(base: unknown, path: string, value: Json): unknown {
  const root = structuredClone(base) as Record<string, unknown>;
  const parts = path.split('.');
  let node: Record<string, unknown> = root;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1) as string] = value;
  return root;
}

function mutated(base: unknown, paths: string[]): fc.Arbitrary<unknown> {
  const one = fc.tuple(fc.constantFrom(...paths), weird);
  return fc.array(one, { minLength: 1, maxLength: 2 }).map((edits) => edits.reduce((body, [path, value]) => setAt(body, path, value), base));
}

interface Answer {
  status: number;
  text: string;
  type: string;
}

async function send(path: string, init: RequestInit): Promise<Answer> {
  const res = await fetch(`${spool.baseURL}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
  // A stream is read to its end: it must end by itself, and its framing is the SSE writer's.
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type') ?? '' };
}

function assertAnswer(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status >= 400) {
    const body = JSON.parse(a.text) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort(), what).toEqual(['code', 'message', 'param', 'type']);
    expect(typeof body.error.message).toBe('string');
  }
}

function remember(a: Answer): void {
  if (a.status !== 200 || !a.type.startsWith('application/json')) return;
  const body = JSON.parse(a.text) as { id?: string; object?: string; status?: string };
  if (body.object === 'response' && typeof body.id === 'string' && (body.status === 'queued' || body.status === 'in_progress')) accepted.add(body.id);
}

const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const post = (path: string, body: unknown) =>
  send(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body).replace(/"__DEEP_(\d+)__"/g, (_, n: string) => deep(Number(n))) });

describe('fuzz: malformed requests never get a 5xx', () => {
  it('POST /v1/responses with mutated valid requests', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(RESPONSES_BASE, RESPONSES_PATHS), async (body) => {
        const a = await post('/responses', body);
        assertAnswer(a, `POST /responses ${JSON.stringify(body).slice(0, 200)}`);
        remember(a);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });

  it('POST /v1/chat/completions with mutated valid requests', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(CHAT_BASE, CHAT_PATHS), async (body) => {
        assertAnswer(await post('/chat/completions', body), `POST /chat/completions ${JSON.stringify(body).slice(0, 200)}`);
      }),
      { seed: SEED + 1, numRuns: Math.ceil(RUNS / 2), endOnFailure: true },
    );
  });

  it('GET, cancel, DELETE and input_items with odd ids and query strings', async () => {
    const real = await post('/responses', { model: 'm', input: 'hi', background: true });
    const realId = (JSON.parse(real.text) as { id: string }).id;
    const oddId = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).map((s) => {
        try {
          return encodeURIComponent(s);
        } catch {
          return `${encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))}%ED%A0%80`;
        }
      }),
      fc.constantFrom('%zz', '%', '%E0%A4%A', '%ED%A0%80', '%C0%80', '%FF', '..', '%2e%2e', '%00', realId, `${realId}%00`, 'resp_{x}', '*', 'resp_' + 'a'.repeat(5000)),
    );
    const query = fc.array(
      fc.tuple(
        fc.constantFrom('starting_after', 'stream', 'limit', 'order', 'after', 'before', 'include', 'include[]', 'x'),
        fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('-1', '-2', '1e9', '99999999999999999999', 'true', 'desc', 'asc', '%zz')),
      ),
      { maxLength: 3 },
    );
    const routes: Array<readonly [string, (id: string) => string]> = [
      ['GET', (id) => `/responses/${id}`],
      ['GET', (id) => `/responses/${id}/input_items`],
      ['POST', (id) => `/responses/${id}/cancel`],
      ['DELETE', (id) => `/responses/${id}`],
    ];
    const route = fc.constantFrom(...routes);
    await fc.assert(
      fc.asyncProperty(route, oddId, query, async ([method, path], id, q) => {
        const qs = q.map(([k, v]) => `${k}=${v.includes('%') ? v : encodeURIComponent(v)}`).join('&');
        const a = await send(`${path(id)}${qs ? `?${qs}` : ''}`, { method });
        assertAnswer(a, `${method} ${path(id)}?${qs}`);
      }),
      { seed: SEED + 2, numRuns: RUNS, endOnFailure: true },
    );
  });

  it('the Conversations API and compact with mutated valid requests and odd ids', async () => {
    const conv = JSON.parse((await post('/conversations', { items: [{ type: 'message', role: 'user', content: 'hi' }] })).text) as { id: string };
    const CONV_BASE = { items: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello' }] }], metadata: { k: 'v' } };
    const CONV_PATHS = ['items', 'items.0', 'items.0.type', 'items.0.role', 'items.0.content', 'items.0.content.0.text', 'metadata', 'metadata.k', 'unknown_field'];
    const COMPACT_BASE = { model: 'm', input: [{ type: 'message', role: 'user', content: 'hello' }], instructions: 'be brief', prompt_cache_key: 'k' };
    const COMPACT_PATHS = ['model', 'input', 'input.0', 'input.0.type', 'input.0.content', 'previous_response_id', 'instructions', 'prompt_cache_key', 'unknown_field'];
    const target = fc.constantFrom('/conversations', `/conversations/${conv.id}`, `/conversations/${conv.id}/items`);
    await fc.assert(
      fc.asyncProperty(target, mutated(CONV_BASE, CONV_PATHS), async (path, body) => {
        assertAnswer(await post(path, body), `POST ${path} ${JSON.stringify(body).slice(0, 200)}`);
      }),
      { seed: SEED + 3, numRuns: Math.ceil(RUNS / 2), endOnFailure: true },
    );
    await fc.assert(
      fc.asyncProperty(mutated(COMPACT_BASE, COMPACT_PATHS), async (body) => {
        assertAnswer(await post('/responses/compact', body), `POST /responses/compact ${JSON.stringify(body).slice(0, 200)}`);
      }),
      { seed: SEED + 4, numRuns: Math.ceil(RUNS / 4), endOnFailure: true },
    );
    const oddId = fc.constantFrom('%zz', '%ED%A0%80', '..', 'conv_{x}', conv.id, `${conv.id}%00`, 'conv_' + 'a'.repeat(5000), '*');
    const routes: Array<readonly [string, (id: string) => string]> = [
      ['GET', (id) => `/conversations/${id}`],
      ['DELETE', (id) => `/conversations/${id}/items/${id}`],
      ['GET', (id) => `/conversations/${conv.id}/items/${id}`],
      ['GET', (id) => `/conversations/${id}/items?limit=${id}&after=${id}`],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), oddId, async ([method, path], id) => {
        assertAnswer(await send(path(id), { method }), `${method} ${path(id)}`);
      }),
      { seed: SEED + 5, numRuns: Math.ceil(RUNS / 4), endOnFailure: true },
    );
  });

  it('WebSocket mode: mutated response.create messages get events or an error event below 500, on a socket that stays open', async () => {
    const ws = new WebSocket(`${spool.url.replace(/^http/, 'ws')}/v1/responses`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let current: ((e: { type: string; status?: number; response?: { id: string; status: string } }) => void) | null = null;
    ws.on('message', (d: Buffer) => current?.(JSON.parse(d.toString())));
    try {
      await fc.assert(
        fc.asyncProperty(mutated({ type: 'response.create', ...RESPONSES_BASE }, RESPONSES_PATHS), async (body) => {
          const end = await new Promise<{ type: string; status?: number; response?: { id: string; status: string } }>((resolve) => {
            // The first event tells: an error event, or response.created (the response then runs on).
            current = (e) => {
              if (e.type === 'error' || e.type === 'response.created') resolve(e);
            };
            ws.send(JSON.stringify(body).replace(/"__DEEP_(\d+)__"/g, (_, n: string) => deep(Number(n))));
          });
          current = null;
          if (end.type === 'error') expect(end.status, JSON.stringify(end)).toBeLessThan(500);
          else if (end.response && end.response.status !== 'completed') accepted.add(end.response.id);
          expect(ws.readyState, JSON.stringify(body).slice(0, 200)).toBe(WebSocket.OPEN);
        }),
        { seed: SEED + 6, numRuns: Math.ceil(RUNS / 3), endOnFailure: true },
      );
    } finally {
      ws.terminate();
    }
  });

  it('the operator routes (/v1/usage, /console/api) with odd ids, queries and bodies', async () => {
    const real = await post('/responses', { model: 'm', input: 'hi', background: true });
    const realId = (JSON.parse(real.text) as { id: string }).id;
    const part = fc.oneof(
      fc.string({ maxLength: 20 }).map((x) => encodeURIComponent(x)),
      fc.constantFrom('%zz', '%ED%A0%80', '..', realId, 'mcpr_x', 'resp_{x}', 'a'.repeat(3000)),
    );
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('-1', '0', '1', '366', '367', '1e3', '99999999999999999999', '%zz', ''));
    const target = fc.oneof(
      fc.tuple(fc.constant('GET'), value, fc.constant(null)).map(([m, v]) => [m, `/v1/usage?days=${v.includes('%') ? v : encodeURIComponent(v)}&key_name=${encodeURIComponent(v)}`, null] as const),
      fc.tuple(fc.constant('GET'), part, fc.constant(null)).map(([m, id]) => [m, `/console/api/responses/${id}`, null] as const),
      fc.tuple(fc.constant('GET'), part, value).map(([m, id, v]) => [m, `/console/api/responses/${id}/events?starting_after=${encodeURIComponent(v)}`, null] as const),
      fc.tuple(fc.constant('POST'), fc.tuple(part, part), weird).map(([m, [r, a], body]) => [m, `/console/api/approvals/${r}/${a}`, body] as const),
    );
    await fc.assert(
      fc.asyncProperty(target, async ([method, path, body]) => {
        const init: RequestInit = { method, ...(body !== null ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}) };
        const res = await fetch(`${spool.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
        assertAnswer({ status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' }, `${method} ${path}`);
      }),
      { seed: SEED + 7, numRuns: Math.ceil(RUNS / 2), endOnFailure: true },
    );
  });

  it('stays alive, and every response it accepted reaches a terminal status', async () => {
    const health = await fetch(`${spool.url}/healthz`);
    expect(health.status).toBe(200);
    expect(accepted.size).toBeGreaterThan(0);
    const deadline = Date.now() + 60_000;
    const pending = new Set(accepted);
    while (pending.size > 0 && Date.now() < deadline) {
      for (const id of [...pending]) {
        const r = await send(`/responses/${id}`, { method: 'GET' });
        const status = r.status === 200 ? (JSON.parse(r.text) as { status: string }).status : 'gone';
        if (status !== 'queued' && status !== 'in_progress') pending.delete(id);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect([...pending], 'responses still running after 60 s').toEqual([]);
  });
});
