import { describe, expect, it } from 'vitest';
import { applyEvent } from './accumulate.ts';
import { ApiError } from './errors.ts';
import { lifecycleEvent } from './events.ts';
import { refuseUnservedParams } from './params.ts';
import { parseCreateRequest } from './request.ts';
import { buildResponse, redactServerUrl } from './response.ts';

const base = (extra: Record<string, unknown> = {}) => parseCreateRequest({ model: 'm', input: 'hi', ...extra });

describe('parseCreateRequest', () => {
  it('names the bad parameter', () => {
    const err = (() => {
      try {
        parseCreateRequest({ model: 'm', input: [{ role: 'user', content: 5 }] });
      } catch (e) {
        return e as ApiError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ApiError);
    expect(err?.param).toBe('input[0].content');
    expect(err?.status).toBe(400);
  });
  it('refuses unsupported tools and items by name, and accepts unknown fields', () => {
    expect(() => parseCreateRequest({ model: 'm', tools: [{ type: 'computer_use_preview' }] })).toThrow(/computer_use_preview/);
    // A hosted type Spool can relay parses; whether the model's route takes it is the route's call.
    const search = parseCreateRequest({ model: 'm', tools: [{ type: 'web_search' }] });
    expect(() => refuseUnservedParams(search, new Set(), null)).toThrow(/web_search/);
    expect(() => refuseUnservedParams(search, new Set(), null, 'responses')).toThrow(/web_search/);
    expect(() => refuseUnservedParams(search, new Set(), null, 'responses', ['web_search'])).not.toThrow();
    // A file search names the vector stores the upstream searches: without them, a 400 on that field.
    const files = parseCreateRequest({ model: 'm', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'], max_num_results: 2 }] });
    expect(files.tools).toEqual([{ type: 'file_search', vector_store_ids: ['vs_1'], max_num_results: 2 }]);
    expect(() => refuseUnservedParams(files, new Set(), null, 'responses', ['web_search'])).toThrow(/file_search/);
    expect(() => refuseUnservedParams(files, new Set(), null, 'responses', ['file_search'])).not.toThrow();
    expect(() => parseCreateRequest({ model: 'm', tools: [{ type: 'file_search' }] })).toThrow(expect.objectContaining({ status: 400, param: 'tools[0].vector_store_ids' }));
    expect(() => parseCreateRequest({ model: 'm', input: [{ type: 'computer_call_output' }] })).toThrow(/computer_call_output/);
    expect(base({ brand_new_field: 1 })).not.toHaveProperty('brand_new_field');
    expect(() => base({ reasoning: { effort: 'extreme' } })).toThrow(/reasoning.effort/);
  });
  it('reads easy messages without a type', () => {
    expect(parseCreateRequest({ model: 'm', input: [{ role: 'assistant', content: 'x' }] }).input).toEqual([{ type: 'message', role: 'assistant', content: 'x' }]);
  });
});

describe('buildResponse', () => {
  it('fills every key Open Responses requires, with OpenAI defaults', () => {
    const r = buildResponse({ id: 'resp_1', request: base(), createdAt: 1, status: 'queued' });
    expect(r).toMatchObject({
      temperature: 1,
      top_p: 1,
      presence_penalty: 0,
      frequency_penalty: 0,
      top_logprobs: 0,
      truncation: 'disabled',
      store: true,
      background: false,
      service_tier: 'default',
      usage: null,
      completed_at: null,
    });
  });
  it('echoes json_schema formats with description and strict, and tools without secrets or paths', () => {
    const r = buildResponse({
      id: 'resp_1',
      request: base({
        text: { format: { type: 'json_schema', name: 'n', schema: { type: 'object' } } },
        tools: [{ type: 'mcp', server_label: 's', server_url: 'https://h.test/mcp/secret?token=x', headers: { Authorization: 'Bearer x' }, authorization: 'tok' }],
      }),
      createdAt: 1,
      status: 'queued',
    });
    expect(r.text.format).toEqual({ type: 'json_schema', name: 'n', description: null, schema: { type: 'object' }, strict: false });
    expect(JSON.stringify(r.tools)).not.toMatch(/secret|Bearer|tok"/);
    expect(redactServerUrl('https://h.test:8443/a/b')).toBe('https://h.test:8443');
  });
});

describe('applyEvent', () => {
  it('derives the snapshot from events: deltas append, done overwrites', () => {
    const snapshot = buildResponse({ id: 'r', request: base(), createdAt: 1, status: 'in_progress' });
    applyEvent(snapshot, { type: 'response.output_item.added', output_index: 0, item: { type: 'message', id: 'm', role: 'assistant', status: 'in_progress', content: [] } });
    applyEvent(snapshot, { type: 'response.content_part.added', item_id: 'm', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
    applyEvent(snapshot, { type: 'response.output_text.delta', item_id: 'm', output_index: 0, content_index: 0, delta: 'Hel', logprobs: [] });
    applyEvent(snapshot, { type: 'response.output_text.delta', item_id: 'm', output_index: 0, content_index: 0, delta: 'lo', logprobs: [] });
    expect(snapshot.output[0]).toMatchObject({ content: [{ text: 'Hello' }] });
    applyEvent(snapshot, { type: 'response.output_text.done', item_id: 'm', output_index: 0, content_index: 0, text: 'Hello!', logprobs: [] });
    expect(snapshot.output[0]).toMatchObject({ content: [{ text: 'Hello!' }] });
    const done = { ...structuredClone(snapshot), status: 'completed' as const };
    applyEvent(snapshot, lifecycleEvent('response.completed', done));
    expect(snapshot.status).toBe('completed');
  });
});

describe('applyEvent on hosted items', () => {
  it("sets a hosted item's status from its own kind's status events only", () => {
    const snapshot = buildResponse({ id: 'r', request: base(), createdAt: 1, status: 'in_progress' });
    applyEvent(snapshot, { type: 'response.output_item.added', output_index: 0, item: { type: 'file_search_call', id: 'fs', status: 'in_progress', queries: [] } });
    applyEvent(snapshot, { type: 'response.file_search_call.searching', item_id: 'fs', output_index: 0 });
    expect(snapshot.output[0]).toMatchObject({ status: 'searching' });
    applyEvent(snapshot, { type: 'response.web_search_call.completed', item_id: 'fs', output_index: 0 });
    expect(snapshot.output[0]).toMatchObject({ status: 'searching' });
    applyEvent(snapshot, { type: 'response.file_search_call.completed', item_id: 'fs', output_index: 0 });
    expect(snapshot.output[0]).toMatchObject({ status: 'completed' });
  });
});

describe('applyEvent on hosted code', () => {
  it("builds a code run's code from its deltas, and its done sets it", () => {
    const snapshot = buildResponse({ id: 'r', request: base(), createdAt: 1, status: 'in_progress' });
    applyEvent(snapshot, {
      type: 'response.output_item.added',
      output_index: 0,
      item: { type: 'code_interpreter_call', id: 'ci', status: 'in_progress', container_id: 'c', code: null, outputs: null },
    });
    applyEvent(snapshot, { type: 'response.code_interpreter_call_code.delta', item_id: 'ci', output_index: 0, delta: 'print(' });
    applyEvent(snapshot, { type: 'response.code_interpreter_call_code.delta', item_id: 'ci', output_index: 0, delta: '1)' });
    expect(snapshot.output[0]).toMatchObject({ code: 'print(1)' });
    applyEvent(snapshot, { type: 'response.code_interpreter_call_code.done', item_id: 'ci', output_index: 0, code: 'print(2)' });
    applyEvent(snapshot, { type: 'response.code_interpreter_call.interpreting', item_id: 'ci', output_index: 0 });
    expect(snapshot.output[0]).toMatchObject({ code: 'print(2)', status: 'interpreting' });
  });
});

describe('newId', async () => {
  const { newId } = await import('./ids.ts');
  it('gives unique prefixed ids of 48 hex digits across pool refills', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('resp')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^resp_[0-9a-f]{48}$/);
  });
});

describe('reasoning items and events', async () => {
  const { refuseUnservedParams } = await import('./params.ts');
  it('accumulate as the openai SDK does, and our types are the SDK types', () => {
    const snapshot = buildResponse({ id: 'r', request: base(), createdAt: 1, status: 'in_progress' });
    const item = { type: 'reasoning' as const, id: 'rs', summary: [], content: [], status: 'in_progress' as const };
    applyEvent(snapshot, { type: 'response.output_item.added', output_index: 0, item });
    applyEvent(snapshot, { type: 'response.content_part.added', item_id: 'rs', output_index: 0, content_index: 0, part: { type: 'reasoning_text', text: '' } });
    applyEvent(snapshot, { type: 'response.reasoning_text.delta', item_id: 'rs', output_index: 0, content_index: 0, delta: 'Hm' });
    expect(snapshot.output[0]).toMatchObject({ content: [{ type: 'reasoning_text', text: 'Hm' }] });
    applyEvent(snapshot, { type: 'response.reasoning_text.done', item_id: 'rs', output_index: 0, content_index: 0, text: 'Hmm.' });
    expect(snapshot.output[0]).toMatchObject({ content: [{ text: 'Hmm.' }] });
    // Compile-time: what we emit is what the SDK's types describe.
    const sdkItem: import('openai').OpenAI.Responses.ResponseReasoningItem = snapshot.output[0] as typeof item & { content: Array<{ type: 'reasoning_text'; text: string }> };
    const sdkDelta: Omit<import('openai').OpenAI.Responses.ResponseReasoningTextDeltaEvent, 'sequence_number'> = {
      type: 'response.reasoning_text.delta',
      item_id: 'rs',
      output_index: 0,
      content_index: 0,
      delta: 'x',
    };
    expect(sdkItem.type).toBe('reasoning');
    expect(sdkDelta.type).toBe('response.reasoning_text.delta');
  });

  it('refuses what would be ignored unless the route drops it', () => {
    const refused = (extra: Record<string, unknown>, drop: string[] = [], window: number | null = null) => {
      try {
        refuseUnservedParams(base(extra), new Set(drop), window);
        return null;
      } catch (e) {
        return (e as ApiError).param;
      }
    };
    expect(refused({ prompt: { id: 'p' } })).toBe('prompt');
    expect(refused({ prompt: { id: 'p' } }, ['prompt'])).toBeNull();
    expect(refused({ reasoning: { summary: 'concise' } })).toBe('reasoning.summary');
    expect(refused({ reasoning: { summary: 'concise' } }, ['reasoning'])).toBeNull();
    expect(refused({ reasoning: { summary: 'auto', effort: 'low' } })).toBeNull();
    expect(refused({ include: ['reasoning.encrypted_content', 'web_search_call.results'] })).toBe('include[1]');
    expect(refused({ truncation: 'auto' })).toBe('truncation');
    expect(refused({ truncation: 'auto' }, [], 8192)).toBeNull();
    expect(refused({ truncation: 'disabled' })).toBeNull();
  });
});
