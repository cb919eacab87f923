import {
  ConnectorError,
  mcpFunctionName,
  type ChatCompletion,
  type ChatFinishReason,
  type ChatMcpFields,
  type ChatToolCall,
  type ChatUsage,
  type ErrorBody,
  type McpCallError,
  type OutputItem,
  type Response,
  type Usage,
} from '@spool/protocol';

/*
 * A finished Response read back as Chat Completions. Pure: the route and the chunk translator
 * share these so that a streamed answer and a non-streamed one can never disagree.
 */

export interface ChatMeta {
  /** `chatcmpl-…`, derived from the response id. */
  id: string;
  created: number;
  /** The model as the client named it. */
  model: string;
}

export function chatIdOf(responseId: string): string {
  return `chatcmpl-${responseId.replace(/^resp_/, '')}`;
}

export function chatUsageOf(usage: Usage | null): ChatUsage | undefined {
  if (!usage) return undefined;
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.total_tokens,
    prompt_tokens_details: { cached_tokens: usage.input_tokens_details.cached_tokens },
    completion_tokens_details: { reasoning_tokens: usage.output_tokens_details.reasoning_tokens },
  };
}

/** The text a failed MCP call is reported with: what went wrong, readable. */
function describeError(error: McpCallError | string | null): string {
  if (error === null) return 'the tool call failed';
  if (typeof error === 'string') return error;
  if (error.type === 'mcp_tool_execution_error') {
    const texts = error.content.flatMap((c) => (typeof c === 'object' && c !== null && typeof (c as { text?: unknown }).text === 'string' ? [(c as { text: string }).text] : []));
    return texts.join(' ') || 'the tool reported an error';
  }
  return error.message;
}

/**
 * The client's view of tool calls: function calls it must run (`call_id` as the id) and MCP calls
 * waiting for its approval (the approval request id as the id, under the name the model used).
 * MCP calls Spool ran are not here: they are done, and reported in `provider_specific_fields`.
 */
export function toolCallOf(item: OutputItem): ChatToolCall | null {
  if (item.type === 'function_call') return { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
  if (item.type === 'mcp_approval_request') {
    return { id: item.id, type: 'function', function: { name: mcpFunctionName(item.server_label, item.name), arguments: item.arguments } };
  }
  return null;
}

/** The MCP tools offered to the model, as LiteLLM reports them: Chat Completions function tools. */
export function listedTools(item: OutputItem): NonNullable<ChatMcpFields['mcp_list_tools']> {
  if (item.type !== 'mcp_list_tools' || item.error) return [];
  return item.tools.map((t) => ({
    type: 'function' as const,
    function: { name: mcpFunctionName(item.server_label, t.name), ...(t.description ? { description: t.description } : {}), parameters: t.input_schema },
  }));
}

/**
 * LiteLLM's `provider_specific_fields` for what the MCP tools did, from the response's output.
 * Keys with nothing to report are left out, as LiteLLM does.
 */
export function mcpFieldsOf(output: OutputItem[]): ChatMcpFields {
  const fields: ChatMcpFields = {};
  const lists = output.flatMap(listedTools);
  const calls = output.filter((i) => i.type === 'mcp_call');
  const approvals = output.filter((i) => i.type === 'mcp_approval_request');
  if (lists.length > 0) fields.mcp_list_tools = lists;
  if (calls.length > 0) {
    fields.mcp_tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: mcpFunctionName(c.server_label, c.name), arguments: c.arguments } }));
    const finished = calls.filter((c) => c.status === 'completed' || c.status === 'failed');
    if (finished.length > 0) {
      fields.mcp_call_results = finished.map((c) => ({
        tool_call_id: c.id,
        name: c.name,
        result: c.status === 'completed' ? (c.output ?? '') : `Error: ${describeError(c.error)}`,
      }));
    }
  }
  if (approvals.length > 0) fields.mcp_approval_requests = approvals.map((a) => ({ type: 'mcp_approval_request', id: a.id, server_label: a.server_label, name: a.name, arguments: a.arguments }));
  return fields;
}

export function finishReasonOf(response: Response): ChatFinishReason {
  if (response.status === 'incomplete') return response.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length';
  return response.output.some((i) => toolCallOf(i) !== null) ? 'tool_calls' : 'stop';
}

/** The `chat.completion` for a response that ended `completed` or `incomplete`. */
export function toChatCompletion(response: Response, meta: ChatMeta, reportMcp: boolean): ChatCompletion {
  let content = '';
  let refusal = '';
  let reasoning = '';
  for (const item of response.output) {
    if (item.type === 'reasoning') reasoning += item.content.map((p) => p.text).join('');
    if (item.type !== 'message') continue;
    for (const part of item.content) {
      if (part.type === 'output_text') content += part.text;
      else refusal += part.refusal;
    }
  }
  const toolCalls = response.output.flatMap((i) => toolCallOf(i) ?? []);
  const fields = reportMcp ? mcpFieldsOf(response.output) : {};
  const usage = chatUsageOf(response.usage);
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          // As OpenAI answers: no text next to tool calls is `null`, not "".
          content: content === '' && toolCalls.length > 0 ? null : content,
          refusal: refusal === '' ? null : refusal,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          ...(reasoning !== '' ? { reasoning_content: reasoning } : {}),
          ...(Object.keys(fields).length > 0 ? { provider_specific_fields: fields } : {}),
        },
        logprobs: null,
        finish_reason: finishReasonOf(response),
      },
    ],
    ...(usage ? { usage } : {}),
  };
}

export interface ChatFailure {
  status: number;
  body: ErrorBody;
}

/**
 * The OpenAI error for a response that did not finish: a tool list that could not be fetched is a
 * 424 `external_connector_error` (as `/v1/responses` answers), an upstream rate limit a 429, the
 * rest a 500 with the response's own error message.
 */
export function failureOf(response: Response): ChatFailure {
  const connector = ConnectorError.ofResponse(response);
  if (connector) return { status: connector.status, body: connector.toBody() };
  if (response.status === 'cancelled') {
    return { status: 500, body: { error: { message: 'The response was cancelled before it finished.', type: 'server_error', param: null, code: 'cancelled' } } };
  }
  const error = response.error ?? { code: 'server_error', message: 'The response failed.' };
  if (error.code === 'rate_limit_exceeded') return { status: 429, body: { error: { message: error.message, type: 'rate_limit_error', param: null, code: error.code } } };
  return { status: 500, body: { error: { message: error.message, type: 'server_error', param: null, code: error.code } } };
}

/** True once an MCP call was sent to its server: repeating the request could run it again. */
export function ranMcpCalls(response: Response): boolean {
  return response.output.some((i) => i.type === 'mcp_call' && i.status !== 'in_progress');
}
