import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import type { EventDraft } from '@spool/protocol';
import { ResponsesEventReader, streamFailure } from './responses-events.ts';
import { toResponsesInput } from './responses-input.ts';
import { buildResponsesParams } from './responses-params.ts';
import { TurnTranslator } from './translate.ts';
import { upstreamFailure } from './upstream-failure.ts';

/** Runs upstream Responses events through a reader; returns Spool's events and the turn result. */
function read(events: unknown[], classify = (_name: string) => null as { serverLabel: string; toolName: string; needsApproval?: boolean } | null) {
  const out: EventDraft[] = [];
  const t = new TurnTranslator(
    (e) => out.push(e),
    () => out.filter((e) => e.type === 'response.output_item.added').length,
    classify,
  );
  const reader = new ResponsesEventReader(t, { logprobs: false });
  for (const e of events) reader.onEvent(e as ResponseStreamEvent);
  return { events: out, result: t.finish(), ended: reader.ended };
}

const usage = { input_tokens: 5, input_tokens_details: { cached_tokens: 1 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 12 };

describe('ResponsesEventReader', () => {
  it('normalises a reasoning item given only at its end (summary, encrypted_content), a function call and usage', () => {
    const { events, result, ended } = read([
      { type: 'response.created', response: {} },
      { type: 'response.output_item.added', output_index: 0, item: { type: 'reasoning', id: 'rs_up', summary: [] } },
      { type: 'response.output_item.done', output_index: 0, item: { type: 'reasoning', id: 'rs_up', summary: [{ type: 'summary_text', text: 'thought' }], encrypted_content: 'sealed' } },
      { type: 'response.output_item.added', output_index: 1, item: { type: 'function_call', id: 'fc_up', call_id: 'call_1', name: 'lookup', arguments: '' } },
      { type: 'response.function_call_arguments.delta', output_index: 1, item_id: 'fc_up', delta: '{"a":' },
      { type: 'response.function_call_arguments.delta', output_index: 1, item_id: 'fc_up', delta: '1}' },
      { type: 'response.completed', response: { usage } },
    ]);
    expect(ended).toBe(true);
    expect(events.map((e) => e.type)).toEqual([
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
    ]);
    const reasoning = events[5] as Extract<EventDraft, { type: 'response.output_item.done' }>;
    expect(reasoning.item).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'thought' }], content: [], encrypted_content: 'sealed', status: 'completed' });
    expect(reasoning.item.id).not.toBe('rs_up');
    expect(result.finishReason).toBe('tool_calls');
    expect(result.functionCalls).toMatchObject([{ call_id: 'call_1', name: 'lookup', arguments: '{"a":1}' }]);
    expect(result.usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12, prompt_tokens_details: { cached_tokens: 1 }, completion_tokens_details: { reasoning_tokens: 2 } });
  });

  it('ends as length on response.incomplete, and throws the mapped error on response.failed and error events', () => {
    expect(
      read([
        { type: 'response.output_text.delta', output_index: 0, delta: 'cut', logprobs: [] },
        { type: 'response.incomplete', response: { incomplete_details: { reason: 'max_output_tokens' } } },
      ]).result.finishReason,
    ).toBe('length');
    expect(() => read([{ type: 'response.failed', response: { error: { code: 'rate_limit_exceeded', message: 'slow down' } } }])).toThrow('slow down');
    expect(() => read([{ type: 'error', code: 'server_error', message: 'boom', param: null }])).toThrow('boom');
  });
});

describe('ResponsesEventReader hosted items', () => {
  type Added = Extract<EventDraft, { type: 'response.output_item.added' }>;
  type Done = Extract<EventDraft, { type: 'response.output_item.done' }>;

  it('relays web and file search items by kind under Spool ids and output indexes, and drops the kinds it does not relay', () => {
    const fileResult = { file_id: 'file_1', filename: 'a.txt', score: 0.5, text: 'x', attributes: { n: 1 } };
    const { events } = read([
      // An unrelayed kind at upstream index 0: nothing of it reaches the log, so the searches' indexes close up.
      { type: 'response.output_item.added', output_index: 0, item: { type: 'local_shell_call', id: 'ls_up', call_id: 'c', action: {}, status: 'in_progress' } },
      { type: 'response.output_item.added', output_index: 1, item: { type: 'file_search_call', id: 'fs_up', status: 'in_progress' } },
      { type: 'response.output_item.added', output_index: 2, item: { type: 'web_search_call', id: 'ws_up', status: 'in_progress' } },
      { type: 'response.file_search_call.searching', output_index: 1, item_id: 'fs_up' },
      { type: 'response.web_search_call.searching', output_index: 2, item_id: 'ws_up' },
      // A `.done` of another kind at an open index names no item Spool opened there.
      { type: 'response.output_item.done', output_index: 1, item: { type: 'web_search_call', id: 'ws_x', status: 'completed', action: { type: 'search' } } },
      { type: 'response.output_item.done', output_index: 1, item: { type: 'file_search_call', id: 'fs_up', status: 'completed', queries: ['q'], results: [fileResult] } },
      { type: 'response.output_item.done', output_index: 0, item: { type: 'local_shell_call', id: 'ls_up', call_id: 'c', action: {}, status: 'completed' } },
      { type: 'response.completed', response: { usage } },
    ]);
    expect(events.map((e) => [e.type, 'output_index' in e ? e.output_index : null])).toEqual([
      ['response.output_item.added', 0],
      ['response.output_item.added', 1],
      ['response.file_search_call.searching', 0],
      ['response.web_search_call.searching', 1],
      ['response.output_item.done', 0],
      // The web search never got its `.done`: the turn's end closes it as incomplete.
      ['response.output_item.done', 1],
    ]);
    const [file, web] = [(events[0] as Added).item, (events[1] as Added).item];
    // Announced before their queries and action are known: relayed with the empty defaults.
    expect(file).toMatchObject({ type: 'file_search_call', status: 'in_progress', queries: [] });
    expect(web).toMatchObject({ type: 'web_search_call', action: { type: 'search' } });
    expect(file.id).toMatch(/^fs_/);
    expect(web.id).toMatch(/^ws_/);
    expect(events.slice(2, 4).map((e) => ('item_id' in e ? e.item_id : null))).toEqual([file.id, web.id]);
    expect((events[4] as Done).item).toEqual({ type: 'file_search_call', id: file.id, status: 'completed', queries: ['q'], results: [fileResult] });
    expect((events[5] as Done).item).toMatchObject({ type: 'web_search_call', id: web.id, status: 'incomplete' });
  });
});

describe('ResponsesEventReader hosted code', () => {
  it("relays a code run's deltas and status under its Spool id, and not another kind's events at its index", () => {
    const { events } = read([
      { type: 'response.output_item.added', output_index: 0, item: { type: 'code_interpreter_call', id: 'ci_up', container_id: 'c1', status: 'in_progress' } },
      { type: 'response.code_interpreter_call.in_progress', output_index: 0, item_id: 'ci_up', sequence_number: 2 },
      { type: 'response.code_interpreter_call_code.delta', output_index: 0, item_id: 'ci_up', delta: 'print(1', sequence_number: 3 },
      { type: 'response.file_search_call.searching', output_index: 0, item_id: 'ci_up', sequence_number: 4 },
      { type: 'response.code_interpreter_call_code.done', output_index: 0, item_id: 'ci_up', code: 'print(1)', sequence_number: 5 },
      { type: 'response.code_interpreter_call.interpreting', output_index: 0, item_id: 'ci_up', sequence_number: 6 },
      {
        type: 'response.output_item.done',
        output_index: 0,
        item: { type: 'code_interpreter_call', id: 'ci_up', container_id: 'c1', code: 'print(1)', outputs: [{ type: 'logs', logs: '1' }], status: 'completed' },
      },
      { type: 'response.completed', response: { usage } },
    ]);
    const id = (events[0] as Extract<EventDraft, { type: 'response.output_item.added' }>).item.id;
    expect(id).toMatch(/^ci_/);
    expect(events[0]).toMatchObject({ item: { code: null, outputs: null } });
    expect(events.slice(1, 5)).toEqual([
      { type: 'response.code_interpreter_call.in_progress', item_id: id, output_index: 0 },
      { type: 'response.code_interpreter_call_code.delta', item_id: id, output_index: 0, delta: 'print(1' },
      { type: 'response.code_interpreter_call_code.done', item_id: id, output_index: 0, code: 'print(1)' },
      { type: 'response.code_interpreter_call.interpreting', item_id: id, output_index: 0 },
    ]);
    expect(events[5]).toMatchObject({ type: 'response.output_item.done', item: { id, status: 'completed', outputs: [{ type: 'logs', logs: '1' }] } });
    expect(events).toHaveLength(6);
  });
});

describe('ResponsesEventReader hosted images', () => {
  it('relays partial images under the Spool id, and closes an unfinished image generation as failed', () => {
    const { events } = read([
      { type: 'response.output_item.added', output_index: 0, item: { type: 'image_generation_call', id: 'ig_up', status: 'in_progress' } },
      { type: 'response.image_generation_call.partial_image', output_index: 0, item_id: 'ig_up', partial_image_index: 0, partial_image_b64: 'AAA', size: '1024x1024', sequence_number: 3 },
      { type: 'response.image_generation_call.generating', output_index: 0, item_id: 'ig_up', sequence_number: 4 },
      { type: 'response.completed', response: { usage } },
    ]);
    const id = (events[0] as Extract<EventDraft, { type: 'response.output_item.added' }>).item.id;
    expect(id).toMatch(/^ig_/);
    expect(events.slice(1)).toEqual([
      { type: 'response.image_generation_call.partial_image', item_id: id, output_index: 0, partial_image_index: 0, partial_image_b64: 'AAA', size: '1024x1024' },
      { type: 'response.image_generation_call.generating', item_id: id, output_index: 0 },
      { type: 'response.output_item.done', output_index: 0, item: { type: 'image_generation_call', id, status: 'failed', result: null } },
    ]);
  });
});

describe('streamFailure', () => {
  it('maps stream failure codes by the Chat route rules: 429, client 400s, and upstream 5xx as a 502', () => {
    expect(upstreamFailure(streamFailure({ code: 'rate_limit_exceeded', message: 'm' }), true)).toMatchObject({ code: 'rate_limit_exceeded', http: { status: 429, code: 'rate_limit_exceeded' } });
    expect(upstreamFailure(streamFailure({ code: 'invalid_prompt', message: 'm' }), true)).toMatchObject({ code: 'invalid_prompt', http: { status: 400, code: 'invalid_prompt' } });
    expect(upstreamFailure(streamFailure({ code: 'context_length_exceeded', message: 'm' }), true)).toMatchObject({ code: 'invalid_prompt', http: { status: 400 } });
    expect(upstreamFailure(streamFailure({ code: 'server_error', message: 'm' }), true)).toMatchObject({ code: 'server_error', http: { status: 502, code: 'upstream_error' } });
    expect(upstreamFailure(streamFailure(null), false)).toMatchObject({ code: 'server_error', http: { status: 502 } });
  });
});

describe('toResponsesInput', () => {
  it('gives MCP calls back as function calls with their outputs after the run, denied approvals as refused calls, reasoning with its seal', () => {
    const input = toResponsesInput([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
      { type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'reasoning_text', text: 't' }], encrypted_content: 'sealed', status: 'completed' },
      { type: 'mcp_call', id: 'mcp_1', server_label: 's', name: 'a', arguments: '{}', output: 'A', error: null, status: 'completed', approval_request_id: null },
      {
        type: 'mcp_call',
        id: 'mcp_2',
        server_label: 's',
        name: 'b',
        arguments: '{}',
        output: null,
        error: { type: 'mcp_protocol_error', code: -32600, message: 'no' },
        status: 'failed',
        approval_request_id: null,
      },
      { type: 'mcp_approval_request', id: 'mcpr_1', server_label: 's', name: 'c', arguments: '{"x":1}' },
      { type: 'mcp_approval_response', approval_request_id: 'mcpr_1', approve: false, reason: 'no way' },
      { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'ok', annotations: [], logprobs: [] }] },
    ]);
    expect(input).toEqual([
      { role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
      { type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'reasoning_text', text: 't' }], encrypted_content: 'sealed' },
      { type: 'function_call', call_id: 'mcp_1', name: 's__a', arguments: '{}' },
      { type: 'function_call', call_id: 'mcp_2', name: 's__b', arguments: '{}' },
      { type: 'function_call_output', call_id: 'mcp_1', output: 'A' },
      { type: 'function_call_output', call_id: 'mcp_2', output: expect.stringMatching(/^Error: .*no/) },
      { type: 'function_call', call_id: 'mcpr_1', name: 's__c', arguments: '{"x":1}' },
      { type: 'function_call_output', call_id: 'mcpr_1', output: 'The user denied this tool call; it was not run. Reason: no way' },
      { role: 'assistant', content: 'ok' },
    ]);
  });
});

describe('buildResponsesParams', () => {
  it('keeps Responses names, honours drop_params, always asks for encrypted reasoning, and offers functions flat', () => {
    const params = buildResponsesParams({
      request: { model: 'm', reasoning: { effort: 'high', summary: 'concise' }, text: { verbosity: 'high' }, service_tier: 'priority', user: 'u', tool_choice: 'required', parallel_tool_calls: true },
      model: 'upstream-m',
      input: [],
      functions: [{ name: 'f', description: null, parameters: null, strict: null }],
      dropParams: new Set(['service_tier', 'reasoning.summary']),
    });
    expect(params).toEqual({
      model: 'upstream-m',
      input: [],
      stream: true,
      store: false,
      user: 'u',
      reasoning: { effort: 'high' },
      text: { verbosity: 'high' },
      include: ['reasoning.encrypted_content'],
      tools: [{ type: 'function', name: 'f', description: null, parameters: { type: 'object', properties: {} }, strict: null }],
      tool_choice: 'required',
      parallel_tool_calls: true,
    });
  });
});
