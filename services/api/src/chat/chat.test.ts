import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  buildResponse,
  ChatCompletionChunkSchema,
  ChatCompletionSchema,
  parseChatCompletionRequest,
  parseCreateRequest,
  type ChatCompletion,
  type ChatCompletionChunk,
  type InputItem,
  type OutputItem,
  type Response,
} from '@spool/protocol';
import { ChatChunkTranslator } from './chunks.ts';
import { failureOf, toChatCompletion } from './completion.ts';
import { rebaseParam, toResponsesRequest } from './request.ts';

const convert = (body: Record<string, unknown>) => toResponsesRequest(parseChatCompletionRequest({ model: 'm', ...body }));
const mcp = { type: 'mcp', server_label: 'srv', server_url: 'https://mcp.example/mcp', require_approval: 'never' };

function thrown(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('toResponsesRequest', () => {
  it('turns messages into input items in order, and parameters into their Responses names', () => {
    const { request } = convert({
      messages: [
        {
          role: 'developer',
          content: [
            { type: 'text', text: 'Be ' },
            { type: 'text', text: 'brief.' },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look' },
            { type: 'image_url', image_url: { url: 'https://img.example/a.png' } },
          ],
        },
        { role: 'assistant', content: 'Calling.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'done' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }, mcp],
      tool_choice: { type: 'function', function: { name: 'f' } },
      max_tokens: 10,
      max_completion_tokens: 20,
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } },
      reasoning_effort: 'low',
      temperature: 0.5,
      seed: 7,
      stop: null,
    });
    expect(request.input).toEqual([
      { type: 'message', role: 'developer', content: 'Be brief.' },
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_text', text: 'look' },
          { type: 'input_image', image_url: 'https://img.example/a.png', detail: 'auto' },
        ],
      },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Calling.', annotations: [] }] },
      { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'done' },
    ]);
    expect(request).toMatchObject({
      store: false,
      tools: [
        { type: 'function', name: 'f', parameters: { type: 'object' } },
        { type: 'mcp', server_label: 'srv', require_approval: 'never' },
      ],
      tool_choice: { type: 'function', name: 'f' },
      max_output_tokens: 20,
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
      reasoning: { effort: 'low' },
      temperature: 0.5,
    });
    expect(request).not.toHaveProperty('seed');
  });

  it('reads back pending approvals, from provider_specific_fields or from the call itself', () => {
    const call = { id: 'mcpr_1', type: 'function', function: { name: 'srv__delete', arguments: '{"id":1}' } };
    const reported = { mcp_approval_requests: [{ type: 'mcp_approval_request', id: 'mcpr_1', server_label: 'srv', name: 'delete', arguments: '{"id":1}' }] };
    for (const assistant of [
      { role: 'assistant', tool_calls: [call], provider_specific_fields: reported },
      { role: 'assistant', content: null, tool_calls: [call] },
    ]) {
      const { request } = convert({
        messages: [{ role: 'user', content: 'x' }, assistant],
        tools: [mcp],
        mcp_approval_responses: [{ approval_request_id: 'mcpr_1', approve: true }],
      });
      expect(request.input?.slice(1)).toEqual([
        { type: 'mcp_approval_request', id: 'mcpr_1', server_label: 'srv', name: 'delete', arguments: '{"id":1}' },
        { type: 'mcp_approval_response', approval_request_id: 'mcpr_1', approve: true, reason: null },
      ]);
    }
    // Answered with a tool message, the call is the client's own: a function call and its output.
    const { request } = convert({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [call] },
        { role: 'tool', tool_call_id: 'mcpr_1', content: 'ok' },
      ],
      tools: [mcp],
    });
    expect((request.input as InputItem[]).map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output']);
    expect(thrown(() => convert({ messages: [{ role: 'user', content: 'x' }], tools: [mcp], mcp_approval_responses: [{ approval_request_id: 'mcpr_2', approve: true }] }))).toMatchObject({
      param: 'mcp_approval_responses[0].approval_request_id',
      code: 'approval_request_not_found',
    });
  });

  it('names Chat parameters in errors raised on the Responses side', () => {
    const { paramFor } = convert({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', tool_call_id: 'c', content: 'r' },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
    });
    expect(paramFor('input[1].call_id')).toBe('messages[1].tool_call_id');
    expect(paramFor('tools[0].name')).toBe('tools[0].function.name');
    expect(paramFor('max_output_tokens')).toBe('max_tokens');
    const err = rebaseParam(ApiError.badRequest("Invalid value for 'input[1].call_id'.", 'input[1].call_id'), paramFor) as ApiError;
    expect(err).toMatchObject({ param: 'messages[1].tool_call_id', message: "Invalid value for 'messages[1].tool_call_id'." });
  });

  it('refuses parameters it cannot honour, by name', () => {
    for (const [body, param] of [
      [{ n: 3 }, 'n'],
      [{ stop: 'END' }, 'stop'],
      [{ logprobs: true }, 'logprobs'],
      [{ logit_bias: { '1': 2 } }, 'logit_bias'],
      [{ functions: [{ name: 'f' }] }, 'functions'],
      [{ modalities: ['text', 'audio'] }, 'modalities'],
    ] as const) {
      expect(thrown(() => convert({ messages: [{ role: 'user', content: 'x' }], ...body }))).toMatchObject({ status: 400, param, code: 'unsupported_parameter' });
    }
  });
});

const meta = { id: 'chatcmpl-1', created: 1, model: 'm' };
function response(status: Response['status'], output: OutputItem[], extra: Partial<Response> = {}): Response {
  return { ...buildResponse({ id: 'resp_1', request: parseCreateRequest({ model: 'm' }), createdAt: 1, status }), output, ...extra };
}
const listItem: OutputItem = {
  type: 'mcp_list_tools',
  id: 'mcpl_1',
  server_label: 'srv',
  tools: [{ name: 'echo', input_schema: { type: 'object' }, description: 'Echo', annotations: null }],
  error: null,
};
const failedCall: OutputItem = {
  type: 'mcp_call',
  id: 'mcp_1',
  server_label: 'srv',
  name: 'echo',
  arguments: '{}',
  output: null,
  error: { type: 'mcp_tool_execution_error', content: [{ type: 'text', text: 'boom' }] },
  status: 'failed',
  approval_request_id: null,
};
const message = (text: string): OutputItem => ({ type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] });

describe('toChatCompletion', () => {
  it('answers with the text, the LiteLLM report and summed usage', () => {
    const usage = { input_tokens: 3, input_tokens_details: { cached_tokens: 1 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 5 };
    const c = toChatCompletion(response('completed', [listItem, failedCall, message('Sorry.')], { usage }), meta, true);
    ChatCompletionSchema.parse(c);
    expect(c.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'Sorry.', refusal: null } });
    expect(c.choices[0]!.message.provider_specific_fields).toEqual({
      mcp_list_tools: [{ type: 'function', function: { name: 'srv__echo', description: 'Echo', parameters: { type: 'object' } } }],
      mcp_tool_calls: [{ id: 'mcp_1', type: 'function', function: { name: 'srv__echo', arguments: '{}' } }],
      mcp_call_results: [{ tool_call_id: 'mcp_1', name: 'echo', result: 'Error: boom' }],
    });
    expect(c.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, prompt_tokens_details: { cached_tokens: 1 }, completion_tokens_details: { reasoning_tokens: 0 } });
  });

  it('gives function calls as tool_calls with null content, and truncation as length', () => {
    const fc: OutputItem = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '{}', status: 'completed' };
    const c = toChatCompletion(response('completed', [fc]), meta, false);
    expect(c.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] } });
    expect(c.choices[0]!.message).not.toHaveProperty('provider_specific_fields');
    expect(toChatCompletion(response('incomplete', [message('w1 ')], { incomplete_details: { reason: 'max_output_tokens' } }), meta, false).choices[0]!.finish_reason).toBe('length');
  });

  it('maps failures to OpenAI errors', () => {
    expect(failureOf(response('failed', [{ ...listItem, error: 'HTTP 401' } as OutputItem]))).toMatchObject({ status: 424, body: { error: { type: 'external_connector_error', param: 'tools' } } });
    expect(failureOf(response('failed', [], { error: { code: 'rate_limit_exceeded', message: 'slow down' } }))).toMatchObject({ status: 429, body: { error: { type: 'rate_limit_error' } } });
    expect(failureOf(response('failed', [], { error: { code: 'server_error', message: 'x' } }))).toMatchObject({ status: 500, body: { error: { message: 'x', type: 'server_error' } } });
  });
});

describe('ChatChunkTranslator', () => {
  it('makes one stream of every turn: role once, text, function call deltas, one final chunk', () => {
    const t = new ChatChunkTranslator(meta, { includeUsage: false, reportMcp: true });
    const ev = (type: string, body: Record<string, unknown>) => t.onEvent(type, JSON.stringify({ type, ...body }));
    const frames = [
      ...ev('response.created', { response: response('in_progress', []) }),
      ...ev('response.output_item.done', { output_index: 0, item: listItem }),
      ...ev('response.output_item.added', { output_index: 1, item: { ...failedCall, status: 'in_progress', error: null } }),
      ...ev('response.output_text.delta', { item_id: 'msg_1', output_index: 2, content_index: 0, delta: 'Hi' }),
      ...ev('response.output_item.added', { output_index: 3, item: { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '', status: 'in_progress' } }),
      ...ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 3, delta: '{"a"' }),
      ...ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 3, delta: ':1}' }),
      ...ev('response.completed', {
        response: response('completed', [listItem, failedCall, message('Hi'), { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '{"a":1}', status: 'completed' }]),
      }),
    ];
    const chunks = frames.map((f) => ChatCompletionChunkSchema.parse(f));
    expect(chunks.map((c) => c.choices[0]!.delta)).toEqual([
      {
        role: 'assistant',
        content: '',
        refusal: null,
        provider_specific_fields: { mcp_list_tools: [{ type: 'function', function: { name: 'srv__echo', description: 'Echo', parameters: { type: 'object' } } }] },
      },
      { content: 'Hi' },
      { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] },
      { provider_specific_fields: expect.objectContaining({ mcp_tool_calls: [expect.objectContaining({ id: 'mcp_1' })], mcp_call_results: [expect.objectContaining({ result: 'Error: boom' })] }) },
    ]);
    expect(chunks.map((c) => c.choices[0]!.finish_reason)).toEqual([null, null, null, null, null, 'tool_calls']);
    expect(t.finished).toBe(true);
  });

  it('ends a failed response with an error object, and adds the usage chunk when asked', () => {
    const failed = new ChatChunkTranslator(meta, { includeUsage: false, reportMcp: false });
    expect(failed.onEvent('response.failed', JSON.stringify({ response: response('failed', [], { error: { code: 'server_error', message: 'upstream down' } }) }))).toEqual([
      { error: { message: 'upstream down', type: 'server_error', param: null, code: 'server_error' } },
    ]);
    const withUsage = new ChatChunkTranslator(meta, { includeUsage: true, reportMcp: false });
    const frames = withUsage.onEvent('response.completed', JSON.stringify({ response: response('completed', [message('x')]) }));
    expect(frames.map((f) => ('choices' in f ? [f.choices.length, f.usage] : f))).toEqual([
      [1, null],
      [1, null],
      [0, null],
    ]);
  });
});

describe('types', () => {
  it('are the openai package types: what Spool emits is what the SDK reads', () => {
    // Compile-time: our emitted shapes assign to openai-node's, so SDK users get what they typed.
    const completion: OpenAI.Chat.ChatCompletion = toChatCompletion(response('completed', [message('x')]), meta, false) satisfies ChatCompletion;
    const frames = new ChatChunkTranslator(meta, { includeUsage: false, reportMcp: false }).onEvent('response.completed', JSON.stringify({ response: response('completed', []) }));
    const chunk: OpenAI.Chat.ChatCompletionChunk = frames[0] as ChatCompletionChunk;
    expect([completion.object, chunk.object]).toEqual(['chat.completion', 'chat.completion.chunk']);
  });
});
