import type OpenAI from 'openai';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLIANCE_MODEL } from './support/compliance-fixtures.ts';
import { SPEC_AVAILABLE, validateComponent, validateResponseResource } from './support/openapi.ts';
import { startTestSpool, type TestSpool } from './support/spool.ts';

/*
 * Compaction: `POST /v1/responses/compact` (raw, as the Open Responses suite sends it, and through
 * the SDK's `responses.compact`), the round trip of its compaction item as input, its opacity,
 * and `context_management` on create. The summary is written by the scripted upstream through the
 * turn queue; what reached the model is checked on every step.
 */

type Json = Record<string, unknown>;
const MODEL = COMPLIANCE_MODEL;
const specIt = it.skipIf(!SPEC_AVAILABLE);

let spool: TestSpool;
let client: OpenAI;
let redis: Redis;

beforeAll(async () => {
  spool = await startTestSpool({ name: 'compaction', env: { SPOOL_API_KEYS: 'test-key,other-key' } });
  client = spool.client;
  redis = new Redis(spool.redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await spool?.close();
});

const post = (path: string, body: unknown, key = 'test-key') =>
  fetch(`${spool.baseURL}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

/** The chat messages of the last upstream request whose messages contain `marker`. */
function sentTo(marker: string): string {
  const req = spool.upstream.requests.findLast((r) => JSON.stringify(r.messages).includes(marker));
  return JSON.stringify(req?.messages ?? null);
}

const conversation = (word: string, marker: string) => [
  { type: 'message', role: 'user', content: `My code word is ${word}. ${marker}` },
  { type: 'message', role: 'assistant', content: 'Noted.' },
];

describe('Open Responses compliance: compact', () => {
  specIt('compact-response: a response.compaction object whose output holds an opaque compaction item', async () => {
    const res = await post('/responses/compact', { model: MODEL, input: conversation('cobalt', '(cmp-1)') });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(validateComponent('CompactResource', body)).toEqual([]);
    expect(body.object).toBe('response.compaction');
    const output = body.output as Json[];
    expect(output.at(-1)).toMatchObject({ type: 'compaction' });
    const encrypted = output.at(-1)?.encrypted_content as string;
    expect(encrypted.length).toBeGreaterThan(20);
    expect(encrypted).not.toContain('cobalt');
    expect(Buffer.from(encrypted, 'base64').toString('latin1')).not.toMatch(/cobalt|Summar/);
    // The summary came from the model, through the queue: it saw the context and the compaction request.
    const seen = sentTo('(cmp-1)');
    expect(seen).toContain('cobalt');
    expect(seen).toContain('Summarize the conversation above');
    expect((body.usage as Json).total_tokens).toBeGreaterThan(0);
  });

  specIt('compact-round-trip: the compaction item as input continues the conversation from its summary', async () => {
    const compacted = (await (await post('/responses/compact', { model: MODEL, input: conversation('amber', '(cmp-2)') })).json()) as Json;
    const res = await post('/responses', { model: MODEL, stream: false, input: [...(compacted.output as Json[]), { type: 'message', role: 'user', content: 'What is the code word? (cmp-2-next)' }] });
    expect(res.status).toBe(200);
    const response = (await res.json()) as Json;
    expect(validateResponseResource(response)).toEqual([]);
    expect(response.status).toBe('completed');
    const seen = sentTo('(cmp-2-next)');
    // In place of the item, the model got the summary; never the sealed blob.
    expect(seen).toContain('Summary of the earlier conversation (compacted)');
    expect(seen).toContain('Hello! You said: Summarize the conversation above');
    expect(seen).not.toContain((compacted.output as Json[])[0]?.encrypted_content as string);
    expect(seen).not.toContain('amber');
  });
});

describe('compact', () => {
  it('works through the SDK, from a previous_response_id chain, and leaves no response of its own behind', async () => {
    const first = await client.responses.create({ model: MODEL, input: 'Remember: the tide is at noon. (cmp-chain)' });
    const compacted = await client.responses.compact({ model: MODEL, previous_response_id: first.id, instructions: 'You are terse.' });
    expect(compacted.object).toBe('response.compaction');
    expect(compacted.output[0]?.type).toBe('compaction');
    const seen = sentTo('(cmp-chain)');
    expect(seen).toContain('the tide is at noon');
    expect(seen).toContain('You are terse.');
    // The turn job's own response (with the plain summary) is gone.
    expect(await redis.exists(`${spool.prefix}resp:{${compacted.id}}`, `${spool.prefix}resp:{${compacted.id}}:events`)).toBe(0);
    await expect(client.responses.retrieve(compacted.id)).rejects.toMatchObject({ status: 404 });
  });

  it('a missing model is a 400 naming it; bad input is a 400', async () => {
    const missing = await post('/responses/compact', { input: 'hello' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { param: 'model', code: 'missing_required_parameter', type: 'invalid_request_error' } });
    await expect(client.responses.compact({ model: MODEL, input: [{ type: 'nope' } as never] })).rejects.toMatchObject({ status: 400 });
    await expect(client.responses.compact({ model: MODEL, previous_response_id: 'resp_missing' })).rejects.toMatchObject({ status: 400, code: 'previous_response_not_found' });
    expect((await post('/responses/compact', [1, 2])).status).toBe(400);
  });

  it('refuses an altered compaction item, one made for another key, and a made-up one, before any model call', async () => {
    const compacted = await client.responses.compact({ model: MODEL, input: 'a secret for test-key only' });
    const item = compacted.output[0] as { encrypted_content: string };
    const raw = Buffer.from(item.encrypted_content, 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
    const before = spool.upstream.requests.length;
    const cases: Array<[OpenAI, string]> = [
      [client, raw.toString('base64')],
      [spool.clientWith('other-key'), item.encrypted_content],
      [client, 'gAAAAABmadeup'],
    ];
    for (const [c, encrypted] of cases) {
      await expect(
        c.responses.create({
          model: MODEL,
          input: [
            { type: 'compaction', encrypted_content: encrypted },
            { role: 'user', content: 'go' },
          ],
        }),
      ).rejects.toMatchObject({
        status: 400,
        code: 'invalid_encrypted_content',
        param: 'input[0].encrypted_content',
      });
    }
    expect(spool.upstream.requests.length).toBe(before);
  });
});

describe('context_management on create', () => {
  it('above compact_threshold the model gets the summary and the new message instead of the old context; below it, the context as it is', async () => {
    const first = await client.responses.create({ model: MODEL, input: `Long story about a lighthouse keeper. ${'words '.repeat(200)} (cm-1)` });
    const next = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: 'How does the story end? (cm-2)',
      context_management: [{ type: 'compaction', compact_threshold: 50 }],
    } as never);
    expect((next as { status: string }).status).toBe('completed');
    const seen = sentTo('(cm-2)');
    expect(seen).toContain('Summary of the earlier conversation (compacted)');
    expect(seen).not.toContain('lighthouse keeper');
    // The compaction turn itself saw the old context.
    expect(sentTo('(cm-1)')).toContain('Summarize the conversation above');

    // Below the threshold, nothing is compacted.
    const short = await client.responses.create({ model: MODEL, input: 'Short: the cat is grey. (cm-3)' });
    await client.responses.create({
      model: MODEL,
      previous_response_id: short.id,
      input: 'What colour? (cm-4)',
      context_management: [{ type: 'compaction', compact_threshold: 100_000 }],
    } as never);
    const seenShort = sentTo('(cm-4)');
    expect(seenShort).toContain('the cat is grey');
    expect(seenShort).not.toContain('compacted');
  });
});
