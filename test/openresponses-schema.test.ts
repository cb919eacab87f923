import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOf, readSse, startTestSpool, until, type TestSpool } from './support/spool.ts';
import { COMPLIANCE_MODEL, WEATHER_TOOL } from './support/compliance-fixtures.ts';
import {
  RESPONSE_RESOURCE_COMPONENT,
  SPEC_AVAILABLE,
  SPEC_SKIP_REASON,
  STREAM_EVENT_UNION_LOCATION,
  streamingEventComponents,
  validateResponseResource,
  validateStreamingEvent,
} from './support/openapi.ts';

/*
 * Everything the server emits on the Open Responses surface, checked against the Open Responses
 * OpenAPI document: every Response (JSON answers, polls, lifecycle snapshots) against
 * ResponseResource, every stream event against the `text/event-stream` event union. MCP is left
 * out on purpose: Open Responses defines no MCP items or tools, so those objects cannot validate.
 */

if (SPEC_SKIP_REASON) console.warn(SPEC_SKIP_REASON);

type Json = Record<string, unknown>;
type StreamEvent = ReturnType<typeof eventsOf>[number];

const MODEL = COMPLIANCE_MODEL;

/** No description, no strict: the echo must still carry both keys (FunctionTool requires them). */
const BARE_TOOL = { type: 'function', name: 'lookup_order', parameters: { type: 'object', properties: { id: { type: 'string' } } } };

/** A Response with its label, and the spec's verdict, shaped so a failure shows both in the diff. */
function responseVerdict(label: string, response: unknown) {
  return { label, errors: validateResponseResource(response) };
}

/** Every invalid event of a stream, with its position; `[]` when all validate. */
function invalidEvents(events: StreamEvent[]) {
  const bad: Array<{ sequence_number: unknown; type: unknown; errors: string[] }> = [];
  for (const e of events) {
    const errors = validateStreamingEvent(e);
    if (errors.length > 0) bad.push({ sequence_number: e.sequence_number, type: e.type, errors });
  }
  return bad;
}

describe.skipIf(!SPEC_AVAILABLE)(`Open Responses schema (${RESPONSE_RESOURCE_COMPONENT}; event union at ${STREAM_EVENT_UNION_LOCATION})`, () => {
  let spool: TestSpool;

  beforeAll(async () => {
    // No upstream retries: `!fail 500` should fail the response at once, not after backoff.
    spool = await startTestSpool({ name: 'or-schema', file: { limits: { upstream_max_retries: 0 } } });
  });

  afterAll(async () => {
    await spool?.close();
  });

  const post = (body: Json) =>
    fetch(`${spool.baseURL}/responses`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer test-key' },
      body: JSON.stringify(body),
    });

  async function createJson(body: Json): Promise<Json> {
    const res = await post({ model: MODEL, stream: false, ...body });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return JSON.parse(text) as Json;
  }

  async function createStream(body: Json): Promise<StreamEvent[]> {
    const res = await post({ model: MODEL, stream: true, ...body });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { frames } = await readSse(res);
    expect(frames.at(-1)?.data).toBe('[DONE]');
    const events = eventsOf(frames);
    // The SSE `event:` field names the JSON `type` (both the SDK and Open Responses read it so).
    for (const [i, f] of frames.filter((fr) => fr.data !== '[DONE]').entries()) expect(f.event).toBe(events[i]?.type);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    return events;
  }

  const types = (events: StreamEvent[]) => events.map((e) => e.type);
  const lastResponse = (events: StreamEvent[]) => events.at(-1)?.response as Json | undefined;

  describe('the validators themselves', () => {
    it('use the components the compliance suite uses and reject what the spec forbids', async () => {
      const components = streamingEventComponents();
      expect(components.get('response.created')).toBe('ResponseCreatedStreamingEvent');
      expect(components.get('response.queued')).toBe('ResponseQueuedStreamingEvent');
      expect(components.get('error')).toBe('ErrorStreamingEvent');

      const good = await createJson({ input: '!words 2', tools: [WEATHER_TOOL] });
      expect(validateResponseResource(good)).toEqual([]);

      const withoutTopP: Json = { ...good };
      delete withoutTopP.top_p;
      expect(validateResponseResource(withoutTopP).join('\n')).toMatch(/top_p/);
      expect(validateResponseResource({ ...good, top_p: null }).join('\n')).toMatch(/\/top_p/);
      expect(validateResponseResource({ ...good, instructions: [{ role: 'system', content: 'x' }] }).join('\n')).toMatch(/\/instructions/);
      expect(validateResponseResource({ ...good, tools: [{ type: 'function', name: 'f' }] }).join('\n')).toMatch(/\/tools\/0/);
      expect(validateResponseResource({ ...good, tools: [{ type: 'mcp', server_label: 'x', server_url: 'https://x' }] })).not.toEqual([]);
      const fcWithoutStatus = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '{}' };
      expect(validateResponseResource({ ...good, output: [fcWithoutStatus] }).join('\n')).toMatch(/\/output\/0.*status/);
      expect(validateResponseResource({ ...good, output: [{ type: 'mcp_call', id: 'mcp_1' }] })).not.toEqual([]);

      expect(validateStreamingEvent({ type: 'response.created', sequence_number: 0, response: good })).toEqual([]);
      expect(validateStreamingEvent({ type: 'response.created', sequence_number: 0, response: withoutTopP }).join('\n')).toMatch(/top_p/);
      expect(validateStreamingEvent({ type: 'response.output_text.delta', sequence_number: 3, item_id: 'msg_1', output_index: 0, content_index: 0 }).join('\n')).toMatch(/delta/);
      expect(validateStreamingEvent({ type: 'response.mcp_call.completed', sequence_number: 3, item_id: 'mcp_1', output_index: 0 }).join('\n')).toMatch(/unknown event type/);
      expect(validateStreamingEvent({ type: 'error', sequence_number: 1, code: 'x', message: 'flat only', param: null })).not.toEqual([]);
    });
  });

  describe('non-streaming JSON responses', () => {
    it('plain text, with instructions, metadata and sampling parameters echoed', async () => {
      const r = await createJson({ input: '!words 5', instructions: 'Be brief.', metadata: { case: 'plain' }, temperature: 0.5, top_p: 0.9 });
      expect(r.status).toBe('completed');
      expect(r.output).toMatchObject([{ type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'w1 w2 w3 w4 w5' }] }]);
      expect(responseVerdict('plain', r)).toEqual({ label: 'plain', errors: [] });
    });

    it('a function call, with an offered tool that has no description and no strict', async () => {
      const r = await createJson({ input: "What's the weather like in Paris?", tools: [WEATHER_TOOL, BARE_TOOL] });
      expect(r.status).toBe('completed');
      expect(r.output).toMatchObject([{ type: 'function_call', name: 'get_weather', status: 'completed' }]);
      expect(responseVerdict('function call', r)).toEqual({ label: 'function call', errors: [] });
    });

    it('max_output_tokens reached: incomplete', async () => {
      const r = await createJson({ input: '!words 20', max_output_tokens: 3 });
      expect(r.status).toBe('incomplete');
      expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
      expect(r.output).toMatchObject([{ type: 'message', status: 'incomplete' }]);
      expect(responseVerdict('incomplete', r)).toEqual({ label: 'incomplete', errors: [] });
    });

    it('upstream failure: failed with an error object', async () => {
      // A synchronous request answers an upstream failure with an HTTP error; the failed Response is polled.
      const created = await createJson({ input: '!fail 500', background: true });
      const r = await until(async () => {
        const res = await fetch(`${spool.baseURL}/responses/${created.id as string}`, { headers: { Authorization: 'Bearer test-key' } });
        const polled = (await res.json()) as Json;
        return polled.status === 'queued' || polled.status === 'in_progress' ? null : polled;
      });
      expect(r.status).toBe('failed');
      expect(r.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      expect(responseVerdict('failed', r)).toEqual({ label: 'failed', errors: [] });
    });
  });

  describe('stream events', () => {
    it('plain text stream', async () => {
      const events = await createStream({ input: '!words 4' });
      expect(types(events)).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ]);
      expect(invalidEvents(events)).toEqual([]);
      expect(lastResponse(events)?.status).toBe('completed');
    });

    it('function call stream', async () => {
      const events = await createStream({ input: "What's the weather like in Paris?", tools: [WEATHER_TOOL, BARE_TOOL] });
      const t = types(events);
      expect(t).toContain('response.function_call_arguments.delta');
      expect(t).toContain('response.function_call_arguments.done');
      expect(events.find((e) => e.type === 'response.output_item.added')).toMatchObject({ item: { type: 'function_call' } });
      expect(invalidEvents(events)).toEqual([]);
      expect(lastResponse(events)?.status).toBe('completed');
    });

    it('background + stream, including response.queued', async () => {
      const events = await createStream({ input: '!words 3', background: true });
      expect(types(events).slice(0, 3)).toEqual(['response.created', 'response.queued', 'response.in_progress']);
      expect(events[0]?.response).toMatchObject({ status: 'queued', background: true });
      expect(invalidEvents(events)).toEqual([]);
      expect(lastResponse(events)?.status).toBe('completed');
    });

    it('max_output_tokens reached in a stream: response.incomplete', async () => {
      const events = await createStream({ input: '!words 20', max_output_tokens: 3 });
      expect(events.at(-1)?.type).toBe('response.incomplete');
      expect(invalidEvents(events)).toEqual([]);
    });

    it('upstream failure in a stream: response.failed', async () => {
      const events = await createStream({ input: '!fail 500' });
      expect(events.at(-1)?.type).toBe('response.failed');
      expect(invalidEvents(events)).toEqual([]);
    });

    it('reasoning stream: the reasoning item and its events (SDK names, validated as the schema names them)', async () => {
      const events = await createStream({ input: '!think Weighing it up\n!say Done' });
      const t = types(events);
      expect(t.slice(2, 5)).toEqual(['response.output_item.added', 'response.content_part.added', 'response.reasoning_text.delta']);
      expect(t).toContain('response.reasoning_text.done');
      expect(events.find((e) => e.type === 'response.output_item.done')).toMatchObject({ item: { type: 'reasoning', content: [{ type: 'reasoning_text', text: 'Weighing it up' }] } });
      expect(invalidEvents(events)).toEqual([]);
      expect(validateResponseResource(lastResponse(events))).toEqual([]);
    });

    it('upstream cut mid-stream: incomplete item, then response.failed', async () => {
      const events = await createStream({ input: '!words 6\n!cutafter 2' });
      expect(types(events)).toContain('response.output_text.delta');
      expect(events.at(-1)?.type).toBe('response.failed');
      expect(invalidEvents(events)).toEqual([]);
    });
  });

  describe('background polling', () => {
    it('the queued answer, every polled snapshot, and the replayed stream validate', async () => {
      const created = await createJson({ input: '!words 6\n!delay 40', background: true });
      expect(created.status).toBe('queued');
      expect(responseVerdict('background create', created)).toEqual({ label: 'background create', errors: [] });

      const id = created.id as string;
      const polled: Json[] = [];
      const final = await until(async () => {
        const res = await fetch(`${spool.baseURL}/responses/${id}`, { headers: { Authorization: 'Bearer test-key' } });
        expect(res.status).toBe(200);
        const r = (await res.json()) as Json;
        polled.push(r);
        return r.status === 'queued' || r.status === 'in_progress' ? null : r;
      });
      expect(final.status).toBe('completed');
      // With a 40 ms delay per word, some polls see the response mid-generation.
      expect(polled.some((r) => r.status === 'in_progress')).toBe(true);
      const bad = polled.map((r, i) => responseVerdict(`poll #${i} (${String(r.status)})`, r)).filter((v) => v.errors.length > 0);
      expect(bad).toEqual([]);

      const replay = await fetch(`${spool.baseURL}/responses/${id}?stream=true`, { headers: { Authorization: 'Bearer test-key' } });
      expect(replay.status).toBe(200);
      const events = eventsOf((await readSse(replay)).frames);
      expect(types(events)).toContain('response.queued');
      expect(events.at(-1)?.type).toBe('response.completed');
      expect(invalidEvents(events)).toEqual([]);
    });
  });
});
