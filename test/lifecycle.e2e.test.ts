import { Queue } from 'bullmq';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES, turnJob, type Keys } from '@spool/contracts';
import type { RedisClient } from '@spool/redis';
import { eventsOf, readSse, startTestSpool, until, type TestSpool } from './support/spool.ts';

/**
 * Cancel, delete and input_items through the official `openai` client, on a real Redis with the
 * scripted upstream: the worker really stops, nothing completes a cancelled response later, and
 * open streams end with [DONE].
 */
let spool: TestSpool;
let client: OpenAI;
let other: OpenAI;
let keys: Keys;
let redis: RedisClient;
let turns: Queue;

beforeAll(async () => {
  spool = await startTestSpool({ name: 'lifecycle', env: { SPOOL_API_KEYS: 'test-key,other-key' }, file: { limits: { keepalive_ms: 200 } } });
  client = spool.client;
  other = spool.clientWith('other-key');
  keys = spool.keys;
  redis = spool.connectRedis();
  turns = new Queue(QUEUES.turns, { connection: redis, prefix: keys.bullPrefix });
});
afterAll(async () => {
  await turns?.close();
  redis?.disconnect();
  await spool?.close();
});

type Json = Record<string, any>;
const TERMINAL = ['response.completed', 'response.failed', 'response.incomplete'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function api(path: string, init: RequestInit = {}, key = 'test-key'): Promise<globalThis.Response> {
  return fetch(`${spool.baseURL}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers as Record<string, string>) } });
}

/** The stored Response exactly as a poll returns it (the SDK's retrieve adds `output_text`). */
async function poll(id: string): Promise<Json> {
  const res = await api(`/responses/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

/** The whole event log of a response, read as a stream (it ends at once when the response is sealed). */
async function logOf(id: string) {
  return eventsOf((await readSse(await api(`/responses/${id}?stream=true`))).frames);
}

function textOf(r: Json): string {
  return (r.output as Json[])
    .flatMap((i) => (i.type === 'message' ? i.content : []))
    .map((c: Json) => c.text ?? '')
    .join('');
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i + 1}`).join(' ');

/** The state of the response's first turn job ('unknown' once it is done: completed jobs are removed). */
const turnState = (id: string) => turns.getJobState(turnJob.jobId({ responseId: id, turn: 0 }));

async function startedStreaming(id: string): Promise<Json> {
  return until(async () => {
    const p = await poll(id);
    return p.status === 'in_progress' && textOf(p).length > 0 ? p : null;
  });
}

function expectSequential(events: Array<{ sequence_number: number }>) {
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
}

describe('cancel', () => {
  it('cancels a running background response: the worker stops and nothing completes it later', async () => {
    // 22 chunks 60 ms apart: the upstream would finish about 1.3 s after the start.
    const r = await client.responses.create({ model: 'm', input: '!delay 60\n!words 20', background: true });
    await startedStreaming(r.id);
    const cancelled = await client.responses.cancel(r.id);
    expect(cancelled).toMatchObject({ id: r.id, object: 'response', status: 'cancelled', background: true, completed_at: null });
    const text = textOf(cancelled);
    expect(text.length).toBeGreaterThan(0);
    expect(words(20).startsWith(text)).toBe(true);
    expect(cancelled.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });

    // The cancelled snapshot is rebuilt from the log, so it holds every delta that was logged.
    const log = await logOf(r.id);
    expectSequential(log);
    expect(
      log
        .filter((e) => e.type === 'response.output_text.delta')
        .map((e) => e.delta)
        .join(''),
    ).toBe(text);
    expect(log.some((e) => TERMINAL.includes(e.type))).toBe(false);

    await until(async () => (await turnState(r.id)) !== 'active', 2000);
    await sleep(1500); // past the moment the upstream would have finished
    expect(await poll(r.id)).toEqual(cancelled);
    expect(await logOf(r.id)).toEqual(log);
  });

  it('aborts a quiet upstream request at once instead of waiting for its first token', async () => {
    const marker = `quiet-${Date.now()}`;
    const r = await client.responses.create({ model: 'm', input: `${marker}\n!delay 5000\n!say too late`, background: true });
    await until(async () => spool.upstream.requests.some((q) => JSON.stringify(q.messages).includes(marker)));
    expect(await turnState(r.id)).toBe('active');
    const t0 = Date.now();
    const cancelled = await client.responses.cancel(r.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.output).toEqual([]);
    await until(async () => (await turnState(r.id)) !== 'active', 4000, 20);
    // The upstream's first chunk was 5 s away: the turn ended because its request was aborted.
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((await poll(r.id)).status).toBe('cancelled');
  });

  it('returns the same object, with 200, however often it is repeated and with or without a body', async () => {
    const r = await client.responses.create({ model: 'm', input: '!delay 50\n!words 40', background: true });
    await startedStreaming(r.id);
    const first = await client.responses.cancel(r.id);
    const second = await client.responses.cancel(r.id);
    expect(second).toEqual(first);
    const emptyJson = await api(`/responses/${r.id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' });
    expect(emptyJson.status).toBe(200);
    expect(await emptyJson.json()).toEqual(first);
    const noBody = await api(`/responses/${r.id}/cancel`, { method: 'POST' });
    expect(noBody.status).toBe(200);
    expect(await noBody.json()).toEqual(first);
  });

  it('returns the finished response when it completed first', async () => {
    const r = await client.responses.create({ model: 'm', input: '!words 3', background: true });
    const done = await until(async () => {
      const p = await poll(r.id);
      return p.status === 'completed' ? p : null;
    });
    const c = await client.responses.cancel(r.id);
    expect(c).toEqual(done);
    expect(c.status).toBe('completed');
    expect(textOf(c)).toBe('w1 w2 w3');
  });

  it('settles a cancel racing completion one way, and the winner stays', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const r = await client.responses.create({ model: 'm', input: `!words ${2 + i}`, background: true });
        await sleep(i * 8);
        return { id: r.id, cancel: await client.responses.cancel(r.id) };
      }),
    );
    await sleep(500);
    for (const { id, cancel } of results) {
      expect(['cancelled', 'completed']).toContain(cancel.status);
      expect(await poll(id)).toEqual(cancel);
      const log = await logOf(id);
      expectSequential(log);
      expect(log.at(-1)?.type === 'response.completed').toBe(cancel.status === 'completed');
    }
  });

  it('cancels a queued response that no worker has taken, and removes its job', async () => {
    const apiOnly = await startTestSpool({ name: 'lifecycle-api', env: { SPOOL_ROLES: 'api' } });
    const apiOnlyTurns = new Queue(QUEUES.turns, { connection: redis, prefix: apiOnly.keys.bullPrefix });
    try {
      const r = await apiOnly.client.responses.create({ model: 'm', input: 'hi', background: true });
      const jobId = turnJob.jobId({ responseId: r.id, turn: 0 });
      expect(await apiOnlyTurns.getJobState(jobId)).toBe('waiting');
      const reading = fetch(`${apiOnly.baseURL}/responses/${r.id}?stream=true`).then(readSse);
      await sleep(100);
      const c = await apiOnly.client.responses.cancel(r.id);
      expect(c).toMatchObject({ status: 'cancelled', output: [] });
      expect(await apiOnlyTurns.getJobState(jobId)).toBe('unknown');
      const { frames } = await reading;
      expect(frames.at(-1)?.data).toBe('[DONE]');
      expect(eventsOf(frames).map((e) => e.type)).toEqual(['response.created', 'response.queued']);
    } finally {
      await apiOnlyTurns.close();
      await apiOnly.close();
    }
  });

  it('refuses to cancel a synchronous response with a 400, and lets it run', async () => {
    const done = await client.responses.create({ model: 'm', input: 'hi' });
    const err = await client.responses.cancel(done.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const raw = await api(`/responses/${done.id}/cancel`, { method: 'POST' });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ error: { message: 'Cannot cancel a synchronous response.', type: 'invalid_request_error', param: null, code: null } });

    const stream = await client.responses.create({ model: 'm', input: '!delay 30\n!words 10', stream: true });
    const types: string[] = [];
    for await (const e of stream) {
      if (e.type === 'response.created') await expect(client.responses.cancel(e.response.id)).rejects.toBeInstanceOf(OpenAI.BadRequestError);
      types.push(e.type);
    }
    expect(types.at(-1)).toBe('response.completed');
  });

  it('answers 404 for an unknown id and for another key’s response, which keeps running', async () => {
    await expect(client.responses.cancel('resp_unknown')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const r = await client.responses.create({ model: 'm', input: '!delay 20\n!words 10', background: true });
    const err = await other.responses.cancel(r.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, message: expect.stringContaining(`Response with id '${r.id}' not found.`) });
    const done = await until(async () => {
      const p = await poll(r.id);
      return p.status === 'completed' ? p : null;
    });
    expect(textOf(done)).toBe(words(10));
  });

  it('ends open streams with [DONE], the creating stream and a resumed one alike', async () => {
    const created = await client.responses.create({ model: 'm', input: '!delay 50\n!words 40', background: true, stream: true });
    const seen: Array<{ type: string; sequence_number: number }> = [];
    let id = '';
    let resumed: ReturnType<typeof readSse> | null = null;
    let cancelled: OpenAI.Responses.Response | null = null;
    for await (const e of created) {
      seen.push(e);
      if (e.type === 'response.created') {
        id = e.response.id;
        resumed = api(`/responses/${id}?stream=true`).then(readSse);
      }
      if (e.type === 'response.output_text.delta' && !cancelled) cancelled = await client.responses.cancel(id);
    }
    expect(cancelled?.status).toBe('cancelled');
    expectSequential(seen);
    expect(seen.some((e) => TERMINAL.includes(e.type))).toBe(false);

    const { frames } = await (resumed as NonNullable<typeof resumed>);
    expect(frames.at(-1)?.data).toBe('[DONE]');
    expect(eventsOf(frames)).toEqual(seen);

    // A stream opened after the cancel replays the log and closes.
    const later = await readSse(await api(`/responses/${id}?stream=true&starting_after=2`));
    expect(later.frames.at(-1)?.data).toBe('[DONE]');
    expect(eventsOf(later.frames)).toEqual(seen.slice(3));
  });
});

describe('delete', () => {
  it('deletes a response and its event log; later reads are 404', async () => {
    const r = await client.responses.create({ model: 'm', input: 'hi' });
    const res = await api(`/responses/${r.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: r.id, object: 'response.deleted', deleted: true });
    expect(await redis.exists(keys.record(r.id), keys.events(r.id))).toBe(0);

    await expect(client.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.inputItems.list(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.delete(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.cancel(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await api(`/responses/${r.id}?stream=true`)).status).toBe(404);
    const chained = await client.responses.create({ model: 'm', input: 'x', previous_response_id: r.id }).catch((e: unknown) => e);
    expect(chained).toMatchObject({ status: 400, code: 'previous_response_not_found' });

    const viaSdk = await client.responses.create({ model: 'm', input: 'hi' });
    await client.responses.delete(viaSdk.id); // typed void: the SDK sends Accept: */* and ignores the body
    await expect(client.responses.retrieve(viaSdk.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('answers 404 for an unknown id and for another key’s response, which stays', async () => {
    await expect(client.responses.delete('resp_unknown')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const r = await client.responses.create({ model: 'm', input: 'hi' });
    await expect(other.responses.delete(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await poll(r.id)).status).toBe('completed');
  });

  it('cancels an in-progress background response before deleting it', async () => {
    const r = await client.responses.create({ model: 'm', input: '!delay 60\n!words 20', background: true });
    const reading = api(`/responses/${r.id}?stream=true`).then(readSse);
    await startedStreaming(r.id);
    await client.responses.delete(r.id);
    const { frames } = await reading;
    expect(frames.at(-1)?.data).toBe('[DONE]');
    expect(eventsOf(frames).some((e) => TERMINAL.includes(e.type))).toBe(false);
    await until(async () => (await turnState(r.id)) !== 'active', 2000);
    await sleep(1500); // past the moment the upstream would have finished: nothing brought it back
    expect((await api(`/responses/${r.id}`)).status).toBe(404);
    expect(await redis.exists(keys.record(r.id), keys.events(r.id))).toBe(0);
  });

  it('stops a synchronous streaming response that is deleted mid-stream', async () => {
    const stream = await client.responses.create({ model: 'm', input: '!delay 40\n!words 40', stream: true });
    const types: string[] = [];
    let id = '';
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.created') id = e.response.id;
      if (e.type === 'response.output_text.delta' && types.filter((t) => t === e.type).length === 2) await client.responses.delete(id);
    }
    expect(types.some((t) => TERMINAL.includes(t))).toBe(false);
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBeLessThan(40);
    expect((await api(`/responses/${id}`)).status).toBe(404);
  });
});

describe('input_items', () => {
  let id: string;
  let asc: Json[];

  beforeAll(async () => {
    const r = await client.responses.create({
      model: 'm',
      input: [
        { role: 'developer', content: 'one' },
        { role: 'user', content: 'two' },
        { role: 'assistant', content: 'three' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'four' }] },
        { role: 'user', content: 'five' },
      ],
    });
    id = r.id;
    const res = await api(`/responses/${id}/input_items?order=asc&limit=100`);
    expect(res.status).toBe(200);
    asc = ((await res.json()) as Json).data;
  });

  const texts = (items: Json[]) => items.map((i) => i.content[0].text);

  it('lists the input as items with ids, newest first by default', async () => {
    expect(texts(asc)).toEqual(['one', 'two', 'three', 'four', 'five']);
    for (const item of asc) {
      expect(item).toMatchObject({ type: 'message', status: 'completed', id: expect.stringMatching(/^msg_/) });
      expect(item.content[0].type).toBe('input_text');
    }
    expect(new Set(asc.map((i) => i.id)).size).toBe(5);

    const res = await api(`/responses/${id}/input_items`);
    const page = (await res.json()) as Json;
    expect(page).toEqual({ object: 'list', data: [...asc].reverse(), first_id: asc[4]?.id, last_id: asc[0]?.id, has_more: false });
    const sdkPage = await client.responses.inputItems.list(id);
    expect(sdkPage.data.map((i) => i.id)).toEqual(page.data.map((i: Json) => i.id));
  });

  it('pages with limit and after, in both orders', async () => {
    const p1 = (await (await api(`/responses/${id}/input_items?order=asc&limit=2`)).json()) as Json;
    expect(p1).toEqual({ object: 'list', data: asc.slice(0, 2), first_id: asc[0]?.id, last_id: asc[1]?.id, has_more: true });
    const p2 = (await (await api(`/responses/${id}/input_items?order=asc&limit=2&after=${p1.last_id}`)).json()) as Json;
    expect(p2).toMatchObject({ data: asc.slice(2, 4), has_more: true });
    const p3 = (await (await api(`/responses/${id}/input_items?order=asc&limit=2&after=${p2.last_id}`)).json()) as Json;
    expect(p3).toMatchObject({ data: asc.slice(4), has_more: false });

    const d = await client.responses.inputItems.list(id, { limit: 2, after: asc[3]?.id as string });
    expect(d.data.map((i) => i.id)).toEqual([asc[2]?.id, asc[1]?.id]);
    expect(d.has_more).toBe(true);
  });

  it('walks every item with the SDK’s auto-pagination', async () => {
    const desc: string[] = [];
    for await (const item of client.responses.inputItems.list(id, { limit: 2 })) desc.push(item.id);
    expect(desc).toEqual(asc.map((i) => i.id).reverse());
    const up: string[] = [];
    for await (const item of client.responses.inputItems.list(id, { limit: 2, order: 'asc' })) up.push(item.id);
    expect(up).toEqual(asc.map((i) => i.id));
  });

  it('lists only the response’s own input, with ids for every item type', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }];
    const first = await client.responses.create({ model: 'm', input: '!call get_weather {}', tools });
    const call = first.output[0];
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    const second = await client.responses.create({
      model: 'm',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
    });
    const items = (await client.responses.inputItems.list(second.id)).data;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'function_call_output', call_id: call.call_id, output: 'sunny', id: expect.stringMatching(/^fco_/) });

    const plain = await client.responses.create({ model: 'm', input: 'just text' });
    const listed = (await client.responses.inputItems.list(plain.id)).data;
    expect(listed).toEqual([{ id: expect.stringMatching(/^msg_/), type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'just text' }] }]);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['order=sideways', 'order'],
    ['after=msg_not_here', 'after'],
  ])('refuses %s with a 400 naming the parameter', async (query, param) => {
    const res = await api(`/responses/${id}/input_items?${query}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).error).toMatchObject({ type: 'invalid_request_error', param });
  });

  it('answers 404 for another key’s response', async () => {
    await expect(other.responses.inputItems.list(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
