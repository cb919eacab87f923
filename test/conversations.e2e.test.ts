import type OpenAI from 'openai';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSpool, untilTerminal, type TestSpool } from './support/spool.ts';

/*
 * The Conversations API through the SDK's `client.conversations` resource, and
 * `client.responses.create({conversation})`, on real Redis with the scripted upstream: what the
 * model sees, what is appended, one response at a time, ownership and expiry.
 */

let spool: TestSpool;
let client: OpenAI;
let redis: Redis;

beforeAll(async () => {
  spool = await startTestSpool({ name: 'conversations', env: { SPOOL_API_KEYS: 'test-key,other-key' }, file: { limits: { retention_seconds: 5000, max_conversation_items: 8 } } });
  client = spool.client;
  redis = new Redis(spool.redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await spool?.close();
});

/** The chat messages the upstream got for the request whose text contains `marker`. */
function sentTo(marker: string): Array<{ role: string; content: unknown }> {
  const req = spool.upstream.requests.findLast((r) => JSON.stringify(r.messages).includes(marker));
  return (req?.messages ?? []) as Array<{ role: string; content: unknown }>;
}

const textOf = (item: unknown) => JSON.stringify((item as { content?: unknown }).content ?? null);

describe('conversations resource', () => {
  it('creates (with items and metadata), retrieves, updates and deletes a conversation', async () => {
    const conv = await client.conversations.create({ metadata: { topic: 'demo' }, items: [{ type: 'message', role: 'user', content: 'Hello there' }] });
    expect(conv).toMatchObject({ object: 'conversation', metadata: { topic: 'demo' } });
    expect(conv.id).toMatch(/^conv_/);
    expect(conv.created_at).toBeGreaterThan(0);
    expect(await client.conversations.retrieve(conv.id)).toEqual(conv);
    const updated = await client.conversations.update(conv.id, { metadata: { topic: 'changed' } });
    expect(updated.metadata).toEqual({ topic: 'changed' });
    expect((await client.conversations.retrieve(conv.id)).metadata).toEqual({ topic: 'changed' });
    expect(await client.conversations.delete(conv.id)).toEqual({ id: conv.id, object: 'conversation.deleted', deleted: true });
    await expect(client.conversations.retrieve(conv.id)).rejects.toMatchObject({ status: 404 });
    // Nothing of it is left in Redis.
    expect(await redis.keys(`${spool.prefix}conv:{${conv.id}}*`)).toEqual([]);
  });

  it('creates with no body at all (as the SDK sends it)', async () => {
    const conv = await client.conversations.create();
    expect(conv.metadata).toEqual({});
    const items = await client.conversations.items.list(conv.id);
    expect(items.data).toEqual([]);
  });

  it('adds, lists (paginated, both orders), retrieves and deletes items', async () => {
    const conv = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'item 0' }] });
    const added = await client.conversations.items.create(conv.id, {
      items: Array.from({ length: 4 }, (_, i) => ({ type: 'message' as const, role: 'user' as const, content: `item ${i + 1}` })),
    });
    expect(added.object).toBe('list');
    expect(added.data).toHaveLength(4);
    expect(added.data[0]).toMatchObject({ type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'item 1' }] });
    expect(added.first_id).toBe(added.data[0]?.id);

    // The SDK's auto-pagination follows `after` = last id across pages of 2.
    const asc: string[] = [];
    for await (const item of client.conversations.items.list(conv.id, { limit: 2, order: 'asc' })) asc.push(textOf(item));
    expect(asc).toEqual([0, 1, 2, 3, 4].map((i) => JSON.stringify([{ type: 'input_text', text: `item ${i}` }])));
    const firstPage = await client.conversations.items.list(conv.id, { limit: 2 });
    expect(firstPage.data.map(textOf)).toEqual([4, 3].map((i) => JSON.stringify([{ type: 'input_text', text: `item ${i}` }])));
    expect(firstPage.has_more).toBe(true);

    const id = added.data[1]?.id as string;
    expect(await client.conversations.items.retrieve(id, { conversation_id: conv.id })).toEqual(added.data[1]);
    const after = await client.conversations.items.delete(id, { conversation_id: conv.id });
    expect(after).toMatchObject({ id: conv.id, object: 'conversation' });
    await expect(client.conversations.items.retrieve(id, { conversation_id: conv.id })).rejects.toMatchObject({ status: 404 });
    expect((await client.conversations.items.list(conv.id, { limit: 100 })).data).toHaveLength(4);
  });

  it('answers bad input with a 400 that names the parameter', async () => {
    const conv = await client.conversations.create();
    await expect(client.conversations.items.create(conv.id, { items: [] })).rejects.toMatchObject({ status: 400, param: 'items' });
    await expect(client.conversations.items.create(conv.id, { items: [{ type: 'bogus' } as never] })).rejects.toMatchObject({ status: 400 });
    await expect(client.conversations.items.list(conv.id, { limit: 0 })).rejects.toMatchObject({ status: 400, param: 'limit' });
    await expect(client.conversations.items.list(conv.id, { order: 'sideways' as never })).rejects.toMatchObject({ status: 400, param: 'order' });
    await expect(client.conversations.items.list(conv.id, { after: 'item_nope' })).rejects.toMatchObject({ status: 400, param: 'after' });
    await expect(client.conversations.update(conv.id, {} as never)).rejects.toMatchObject({ status: 400, param: 'metadata' });
    await expect(client.conversations.create({ metadata: { k: 'x'.repeat(600) } })).rejects.toMatchObject({ status: 400 });
    await expect(client.conversations.retrieve('conv_missing')).rejects.toMatchObject({ status: 404 });
  });

  it('belongs to the key that created it: another key gets 404 everywhere', async () => {
    const conv = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'private words' }] });
    const other = spool.clientWith('other-key');
    await expect(other.conversations.retrieve(conv.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.conversations.items.list(conv.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.conversations.update(conv.id, { metadata: {} })).rejects.toMatchObject({ status: 404 });
    await expect(other.conversations.delete(conv.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.create({ model: 'm', conversation: conv.id, input: 'steal (conv-steal)' })).rejects.toMatchObject({ status: 404 });
    expect(sentTo('(conv-steal)')).toEqual([]);
    expect((await client.conversations.retrieve(conv.id)).id).toBe(conv.id);
  });

  it('is bounded: adding past max_conversation_items, or a response on a full conversation, is a 400', async () => {
    const item = (i: number) => ({ type: 'message' as const, role: 'user' as const, content: `n${i}` });
    const conv = await client.conversations.create({ items: Array.from({ length: 6 }, (_, i) => item(i)) });
    await expect(client.conversations.items.create(conv.id, { items: [item(6), item(7), item(8)] })).rejects.toMatchObject({ status: 400, code: 'conversation_too_large' });
    await client.conversations.items.create(conv.id, { items: [item(6), item(7)] });
    await expect(client.responses.create({ model: 'm', conversation: conv.id, input: 'one more (conv-full)' })).rejects.toMatchObject({ status: 400, code: 'conversation_too_large' });
    expect(sentTo('(conv-full)')).toEqual([]);
  });

  it('lives in Redis under the key builder and expires with the retention', async () => {
    const conv = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'x' }] });
    const keys = await redis.keys(`${spool.prefix}conv:{${conv.id}}*`);
    expect(keys.sort()).toEqual([`${spool.prefix}conv:{${conv.id}}`, `${spool.prefix}conv:{${conv.id}}:items`, `${spool.prefix}conv:{${conv.id}}:order`].sort());
    for (const k of keys) {
      const ttl = await redis.ttl(k);
      expect(ttl).toBeGreaterThan(4000);
      expect(ttl).toBeLessThanOrEqual(5000);
    }
  });
});

describe('responses.create({conversation})', () => {
  it("gives the model the conversation's items and appends the response's input and output when it ends", async () => {
    const conv = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'My favourite colour is teal.' }] });
    const first = await client.responses.create({ model: 'm', conversation: conv.id, input: 'What is my favourite colour? (conv-1)' });
    expect(first.status).toBe('completed');
    expect(first.conversation).toEqual({ id: conv.id });
    expect((await client.responses.retrieve(first.id)).conversation).toEqual({ id: conv.id });
    expect(JSON.stringify(sentTo('(conv-1)'))).toContain('teal');

    const items = await client.conversations.items.list(conv.id, { order: 'asc' });
    expect(items.data.map((i) => i.type)).toEqual(['message', 'message', 'message']);
    expect(textOf(items.data[1])).toContain('(conv-1)');
    expect(items.data[2]).toMatchObject({ role: 'assistant', id: first.output[0]?.id });

    // The `{id}` form; the second response sees the first one's answer.
    const second = await client.responses.create({ model: 'm', conversation: { id: conv.id }, input: 'And again? (conv-2)' });
    expect(second.status).toBe('completed');
    const sent = sentTo('(conv-2)');
    expect(sent.map((m) => m.role)).toEqual(['user', 'user', 'assistant', 'user']);
    expect((await client.conversations.items.list(conv.id, { limit: 100 })).data).toHaveLength(5);
  });

  it('refuses previous_response_id together with conversation', async () => {
    const conv = await client.conversations.create();
    const prev = await client.responses.create({ model: 'm', input: 'hi' });
    await expect(client.responses.create({ model: 'm', conversation: conv.id, previous_response_id: prev.id, input: 'x' })).rejects.toMatchObject({
      status: 400,
      param: 'conversation',
      code: 'mutually_exclusive_parameters',
    });
  });

  it('an unknown conversation is a 404', async () => {
    await expect(client.responses.create({ model: 'm', conversation: 'conv_nope', input: 'x' })).rejects.toMatchObject({ status: 404 });
  });

  it('runs one response at a time per conversation: a second one is refused while the first runs', async () => {
    const conv = await client.conversations.create();
    const slow = await client.responses.create({ model: 'm', conversation: conv.id, background: true, input: '!delay 400\n!say slow one' });
    await expect(client.responses.create({ model: 'm', conversation: conv.id, input: 'too soon' })).rejects.toMatchObject({ status: 400, code: 'conversation_locked' });
    await untilTerminal(client, slow.id);
    const next = await client.responses.create({ model: 'm', conversation: conv.id, input: '!say after the slow one' });
    expect(next.output_text).toBe('after the slow one');
    const items = await client.conversations.items.list(conv.id, { order: 'asc' });
    expect(items.data.map(textOf).join(' ')).not.toContain('too soon');
    expect(items.data).toHaveLength(4);
  });

  it('a cancelled response appends nothing and frees the conversation', async () => {
    const conv = await client.conversations.create();
    const slow = await client.responses.create({ model: 'm', conversation: conv.id, background: true, input: '!delay 5000\n!say never' });
    await client.responses.cancel(slow.id);
    const next = await client.responses.create({ model: 'm', conversation: conv.id, input: '!say free again' });
    expect(next.output_text).toBe('free again');
    const items = await client.conversations.items.list(conv.id, { order: 'asc' });
    expect(items.data.map(textOf).join(' ')).not.toContain('never');
  });
});
