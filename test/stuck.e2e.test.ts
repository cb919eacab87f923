import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import OpenAI, { APIError } from 'openai';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKeys, QUEUES, turnJob } from '@spool/contracts';
import { buildResponse, newId, type CreateResponseRequest } from '@spool/protocol';
import { ResponseStore, snapshotEvent } from '@spool/redis';
import { spawnRedisServer } from '@spool/testkit';
import { eventsOf, readSse, startTestSpool, until, untilTerminal, type TestSpool } from './support/spool.ts';

/**
 * Nothing stays stuck: every way a response could stay `queued` or `in_progress` for good, or
 * lose its record mid-run, or knock the shared subscriber off Redis, driven through the official
 * `openai` client on a real Redis with the scripted upstream.
 */
const spools: TestSpool[] = [];
const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await Promise.all(spools.splice(0).map((s) => s.close()));
});

async function spool(opts: Parameters<typeof startTestSpool>[0] = {}): Promise<TestSpool> {
  const s = await startTestSpool({ name: 'stuck', ...opts });
  spools.push(s);
  return s;
}

function queueOn(s: TestSpool): Queue {
  const conn = new Redis(s.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.turns, { connection: conn, prefix: createKeys(s.prefix).bullPrefix });
  cleanups.push(async () => {
    await queue.close();
    conn.disconnect();
  });
  return queue;
}

type Json = Record<string, any>;

describe('the worker side of work that cannot be serialised', () => {
  it('fails a response whose json_schema is nested 3,500 deep (structuredClone throws) instead of leaving it in_progress', async () => {
    const s = await spool();
    // Written past the API (which may refuse such nesting at the door): the worker must cope anyway.
    let schema: Json = { type: 'string' };
    for (let i = 0; i < 3500; i++) schema = { type: 'array', items: schema };
    const request = {
      model: 'm',
      background: true,
      text: { format: { type: 'json_schema', name: 'deep', schema, strict: false } },
    } as unknown as CreateResponseRequest;
    const conn = new Redis(s.redisUrl);
    cleanups.push(() => conn.disconnect());
    const store = new ResponseStore(conn, createKeys(s.prefix));
    const id = newId('resp');
    const { input: _input, ...stored } = request;
    await store.create({
      id,
      owner: 'anonymous',
      snapshot: buildResponse({ id, request, createdAt: Math.floor(Date.now() / 1000), status: 'queued' }),
      request: JSON.stringify(stored),
      input: JSON.stringify([{ type: 'message', id: newId('msg'), role: 'user', content: [{ type: 'input_text', text: '!say {}' }] }]),
      previousResponseId: null,
      store: true,
      background: true,
      events: [snapshotEvent('response.created'), snapshotEvent('response.queued')],
      ttlSeconds: 600,
    });
    await queueOn(s).add(turnJob.name, { responseId: id, turn: 0 }, { ...turnJob.options, jobId: turnJob.jobId({ responseId: id, turn: 0 }) });

    const final = await untilTerminal(s.client, id, 25_000);
    expect(final.status).toBe('failed');
    expect(final.error).toMatchObject({ code: 'server_error' });
    // The log ends with the terminal event too, so a stream reader is not left waiting either.
    const events = eventsOf((await readSse(await fetch(`${s.baseURL}/responses/${id}?stream=true`))).frames);
    expect(events.at(-1)?.type).toBe('response.failed');
  }, 40_000);
});

describe('an upstream that stalls mid-body', () => {
  it('fails the turn once the body has been quiet for upstream_idle_timeout_ms', async () => {
    const s = await spool({ file: { limits: { upstream_idle_timeout_ms: 300 } } });
    const created = await s.client.responses.create({ model: 'm', input: '!stallafter 1\n!words 5', background: true });
    const final = await untilTerminal(s.client, created.id, 20_000);
    expect(final.status).toBe('failed');
    expect(final.error?.code).toBe('server_error');
    expect(final.error?.message).toMatch(/went quiet: no data for 300 ms/);
    // The chunk that came before the stall is kept, closed as incomplete.
    const message = final.output.find((i) => i.type === 'message');
    expect(message).toMatchObject({ status: 'incomplete' });
  }, 30_000);
});

describe('retention that follows the work', () => {
  it('keeps a store:false response that runs longer than ephemeral_retention_seconds, and it completes', async () => {
    const s = await spool({ file: { limits: { ephemeral_retention_seconds: 2 } } });
    // About 4 s of output, twice the retention, with a write every 200 ms.
    const stream = await s.client.responses.create({ model: 'm', input: '!delay 200\n!words 20', store: false, stream: true });
    const types: string[] = [];
    let text = '';
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.completed')
        text = (e.response.output as Json[])
          .flatMap((i) => (i.type === 'message' ? i.content : []))
          .map((c: Json) => c.text)
          .join('');
    }
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toBe(Array.from({ length: 20 }, (_, i) => `w${i + 1}`).join(' '));
  }, 30_000);
});

describe('a 17 MB instructions', () => {
  let redis: Awaited<ReturnType<typeof spawnRedisServer>> | undefined;
  afterAll(async () => {
    await redis?.stop();
  });

  it('streams to an SSE reader and to a synchronous waiter, and the shared subscriber stays connected', async () => {
    // Its own redis-server, so that the subscriber connections seen are this Spool's alone.
    redis = await spawnRedisServer();
    const admin = new Redis(redis.url);
    cleanups.push(() => admin.disconnect());
    // Redis's default: a pub/sub client is cut at 32 MB of output buffer (created + in_progress are 34 MB).
    expect(await admin.config('GET', 'client-output-buffer-limit')).toEqual(['client-output-buffer-limit', expect.stringContaining('pubsub 33554432 8388608 60')]);
    // Instructions this large are over the default bound at the door (limits.max_instructions_chars): raise it.
    const s = await spool({ redisUrl: redis.url, file: { limits: { max_instructions_chars: 20 * 1024 * 1024 } } });
    const subscribers = async () =>
      ((await admin.call('CLIENT', 'LIST')) as string)
        .split('\n')
        .filter((l) => l.includes('name=spool-subscriber'))
        .map((l) => /\bid=(\d+)/.exec(l)?.[1]);
    // The subscriber connects (and names itself) in the background.
    const before = await until(async () => {
      const ids = await subscribers();
      return ids.length > 0 && ids;
    });
    expect(before).toHaveLength(1);

    const instructions = 'x'.repeat(17 * 1024 * 1024);
    const res = await fetch(`${s.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', instructions, input: '!say streamed', stream: true }),
    });
    expect(res.status).toBe(200);
    const events = eventsOf((await readSse(res)).frames);
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect((events[0]?.response as Json).instructions).toHaveLength(instructions.length);
    expect(((events.at(-1)?.response as Json).output as Json[])[0]?.content[0].text).toBe('streamed');

    const sync = await s.client.responses.create({ model: 'm', instructions, input: '!say waited' });
    expect(sync.status).toBe('completed');
    expect(sync.output_text).toBe('waited');
    expect(sync.instructions).toHaveLength(instructions.length);

    // The same subscriber connection as before: Redis never cut it.
    expect(await subscribers()).toEqual(before);
    // And it still serves live: a normal streamed response on the same Spool streams to the end.
    const after = await s.client.responses.create({ model: 'm', input: '!delay 20\n!words 5', stream: true });
    const live: string[] = [];
    for await (const e of after) if (e.type === 'response.output_text.delta') live.push(e.delta);
    expect(live.join('')).toBe('w1 w2 w3 w4 w5');
  }, 90_000);
});

describe('a synchronous request past limits.sync_timeout_ms', () => {
  it('gets a 504 timeout (not retried by the SDK) naming its response, which is cancelled', async () => {
    const s = await spool({ file: { limits: { sync_timeout_ms: 500 } } });
    const retrying = new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 2 });
    const err = await retrying.responses.create({ model: 'm', input: '!delay 5000\n!say late' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(APIError);
    const apiErr = err as APIError;
    expect(apiErr.status).toBe(504);
    expect(apiErr.error).toMatchObject({ type: 'server_error', code: 'timeout', param: null });
    expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    const id = /'(resp_[^']+)'/.exec(apiErr.message)?.[1];
    expect(id).toBeDefined();
    // At most one request reached the upstream: the SDK did not retry the 504.
    expect(s.upstream.requests.length).toBeLessThanOrEqual(1);
    // The work does not run on for nobody: the response is cancelled and stays so.
    const r = await s.client.responses.retrieve(id as string);
    expect(r.status).toBe('cancelled');
  }, 30_000);

  it('applies to a Chat Completion too', async () => {
    const s = await spool({ file: { limits: { sync_timeout_ms: 500 } } });
    const err = await s.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '!delay 5000\n!say late' }] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(504);
    expect((err as APIError).error).toMatchObject({ code: 'timeout' });
  }, 30_000);
});

describe('the watchdog', () => {
  it('fails a response whose turn job was removed from the queue, within its bound, and leaves a live one alone', async () => {
    const limits = { watchdog_interval_ms: 100, watchdog_stale_after_ms: 300 };
    // The API alone first, so that no worker takes the job before the test removes it.
    const api = await spool({ env: { SPOOL_ROLES: 'api' }, file: { limits } });
    const created = await api.client.responses.create({ model: 'm', input: '!say never', background: true });
    const queue = queueOn(api);
    const jobId = turnJob.jobId({ responseId: created.id, turn: 0 });
    expect(await queue.getJobState(jobId)).toBe('waiting');
    expect(await queue.remove(jobId)).toBe(1);

    await spool({ env: { SPOOL_ROLES: 'llm' }, file: { limits }, prefix: api.prefix, keepData: true });
    // About 2 s of work, several times the stale bound: looked at again and again, and left running.
    const alive = await api.client.responses.create({ model: 'm', input: '!delay 100\n!words 20', background: true });
    // stale_after + interval, with room for a loaded machine; the response would otherwise stay queued for good.
    const final = await untilTerminal(api.client, created.id, 15_000);
    expect(final.status).toBe('failed');
    expect(final.error?.code).toBe('server_error');
    expect(final.error?.message).toMatch(/watchdog.*no longer in the queue/);
    expect((await untilTerminal(api.client, alive.id, 20_000)).status).toBe('completed');
    // Once sealed, both leave the index of responses in flight.
    const conn = new Redis(api.redisUrl);
    cleanups.push(() => conn.disconnect());
    const inflight = createKeys(api.prefix).inflight;
    await until(async () => (await conn.zscore(inflight, created.id)) === null && (await conn.zscore(inflight, alive.id)) === null);
  }, 45_000);
});
