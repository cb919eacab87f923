import { ApiError, mcpFunctionName, parseCreateRequest, type ChatCompletionRequest, type ChatMessage, type ChatToolCall, type CreateResponseRequest, type McpTool } from '@spool/protocol';

/*
 * A Chat Completions request becomes a Responses create request, so that it runs through the same
 * pipeline as `/v1/responses` (turn jobs, MCP jobs, the event log) and never through a second
 * model-calling path in the API. The response is `store: false`: it exists only as long as the
 * request needs it, and the next request brings the whole conversation again, as Chat Completions
 * clients do.
 */

type Json = Record<string, unknown>;

export interface ConvertedRequest {
  request: CreateResponseRequest;
  /** Where a Responses parameter came from in the Chat request, so that a 400 names what the client sent. */
  paramFor(param: string | null): string | null;
}

interface PendingApproval {
  server_label: string;
  name: string;
}

function text(content: string | Array<{ type: 'text'; text: string }>): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

/** The approvals Spool reported on an assistant message (`provider_specific_fields.mcp_approval_requests`). */
function reportedApprovals(fields: Json | null | undefined): Map<string, PendingApproval> {
  const out = new Map<string, PendingApproval>();
  const list = fields?.mcp_approval_requests;
  if (!Array.isArray(list)) return out;
  for (const r of list) {
    if (typeof r !== 'object' || r === null) continue;
    const { id, server_label, name } = r as Json;
    if (typeof id === 'string' && typeof server_label === 'string' && typeof name === 'string') out.set(id, { server_label, name });
  }
  return out;
}

/**
 * A tool call Spool reported as a pending approval, read back from what the client sent: from the
 * message's `provider_specific_fields` when it kept them, else from the call itself (an `mcpr_` id
 * and a `<label>__<tool>` name of one of this request's MCP servers).
 */
function pendingApproval(call: ChatToolCall, reported: Map<string, PendingApproval>, mcpTools: McpTool[]): PendingApproval | null {
  const known = reported.get(call.id);
  if (known) return known;
  if (!call.id.startsWith('mcpr_')) return null;
  const candidates = mcpTools.filter((t) => call.function.name.startsWith(`${t.server_label}__`)).sort((a, b) => b.server_label.length - a.server_label.length);
  for (const t of candidates) {
    const tool = call.function.name.slice(t.server_label.length + 2);
    if (tool && mcpFunctionName(t.server_label, tool) === call.function.name) return { server_label: t.server_label, name: tool };
  }
  return null;
}

function userContent(content: Extract<ChatMessage, { role: 'user' }>['content']): string | Json[] {
  if (typeof content === 'string') return content;
  return content.map((p): Json => {
    switch (p.type) {
      case 'text':
        return { type: 'input_text', text: p.text };
      case 'image_url':
        return { type: 'input_image', image_url: p.image_url.url, detail: p.image_url.detail ?? 'auto' };
      case 'file':
        return { type: 'input_file', file_data: p.file.file_data ?? null, file_id: p.file.file_id ?? null, filename: p.file.filename ?? null };
    }
  });
}

function assistantContent(m: Extract<ChatMessage, { role: 'assistant' }>): Json[] {
  const parts: Json[] = [];
  if (typeof m.content === 'string') {
    if (m.content !== '') parts.push({ type: 'output_text', text: m.content, annotations: [] });
  } else {
    for (const p of m.content ?? []) {
      parts.push(p.type === 'text' ? { type: 'output_text', text: p.text, annotations: [] } : { type: 'refusal', refusal: p.refusal });
    }
  }
  if (m.refusal) parts.push({ type: 'refusal', refusal: m.refusal });
  return parts;
}

/**
 * Converts a parsed Chat Completions request. Messages become input items in order: system,
 * developer and user messages as messages; an assistant message as its text, then one
 * `function_call` per tool call (or an `mcp_approval_request` for a call Spool is waiting on);
 * `tool` messages as `function_call_output`. `mcp_approval_responses` come last, as the Responses
 * API's `mcp_approval_response` items.
 */
export function toResponsesRequest(chat: ChatCompletionRequest): ConvertedRequest {
  const mcpTools = (chat.tools ?? []).filter((t): t is McpTool => t.type === 'mcp');
  const answered = new Set(chat.messages.flatMap((m) => (m.role === 'tool' ? [m.tool_call_id] : [])));
  const input: Json[] = [];
  const origins: string[] = [];
  const approvalIds = new Set<string>();
  const push = (item: Json, origin: string) => {
    input.push(item);
    origins.push(origin);
  };

  chat.messages.forEach((m, i) => {
    const origin = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        push({ type: 'message', role: m.role, content: text(m.content) }, origin);
        break;
      case 'user':
        push({ type: 'message', role: 'user', content: userContent(m.content) }, origin);
        break;
      case 'assistant': {
        const content = assistantContent(m);
        if (content.length > 0) push({ type: 'message', role: 'assistant', content }, origin);
        const reported = reportedApprovals(m.provider_specific_fields);
        (m.tool_calls ?? []).forEach((call, j) => {
          // A call the client answered with a `tool` message is the client's own, approval or not.
          const pending = answered.has(call.id) ? null : pendingApproval(call, reported, mcpTools);
          if (pending) {
            approvalIds.add(call.id);
            push({ type: 'mcp_approval_request', id: call.id, server_label: pending.server_label, name: pending.name, arguments: call.function.arguments }, `${origin}.tool_calls[${j}]`);
          } else {
            push({ type: 'function_call', call_id: call.id, name: call.function.name, arguments: call.function.arguments }, `${origin}.tool_calls[${j}]`);
          }
        });
        break;
      }
      case 'tool':
        push({ type: 'function_call_output', call_id: m.tool_call_id, output: text(m.content) }, origin);
        break;
    }
  });

  (chat.mcp_approval_responses ?? []).forEach((a, k) => {
    const param = `mcp_approval_responses[${k}]`;
    if (!approvalIds.has(a.approval_request_id)) {
      throw ApiError.badRequest(
        `No pending approval '${a.approval_request_id}' in messages: send back the assistant message that carried it (with its tool_calls) together with the answer.`,
        `${param}.approval_request_id`,
        'approval_request_not_found',
      );
    }
    push({ type: 'mcp_approval_response', approval_request_id: a.approval_request_id, approve: a.approve, reason: a.reason ?? null }, param);
  });

  const body: Json = { model: chat.model, input, store: false, background: false, stream: chat.stream ?? false };
  if (chat.tools) {
    body.tools = chat.tools.map((t) =>
      t.type === 'function'
        ? { type: 'function', name: t.function.name, description: t.function.description ?? null, parameters: t.function.parameters ?? null, strict: t.function.strict ?? null }
        : t,
    );
  }
  const tc = chat.tool_choice;
  if (tc != null) {
    if (typeof tc === 'string' || tc.type === 'mcp') body.tool_choice = tc;
    else if (tc.type === 'function') body.tool_choice = { type: 'function', name: tc.function.name };
    else body.tool_choice = { type: 'allowed_tools', mode: tc.allowed_tools.mode, tools: tc.allowed_tools.tools.map((t) => ({ type: 'function', name: t.function.name })) };
  }
  const maxTokens = chat.max_completion_tokens ?? chat.max_tokens;
  if (maxTokens != null) body.max_output_tokens = maxTokens;
  const rf = chat.response_format;
  const format =
    rf == null
      ? undefined
      : rf.type === 'json_schema'
        ? { type: 'json_schema', name: rf.json_schema.name, schema: rf.json_schema.schema ?? {}, description: rf.json_schema.description ?? null, strict: rf.json_schema.strict ?? null }
        : { type: rf.type };
  if (format || chat.verbosity) body.text = { ...(format ? { format } : {}), ...(chat.verbosity ? { verbosity: chat.verbosity } : {}) };
  if (chat.reasoning_effort) body.reasoning = { effort: chat.reasoning_effort };
  const copy = [
    'parallel_tool_calls',
    'max_tool_calls',
    'temperature',
    'top_p',
    'presence_penalty',
    'frequency_penalty',
    'metadata',
    'user',
    'safety_identifier',
    'prompt_cache_key',
    'service_tier',
  ] as const;
  for (const key of copy) if (chat[key] != null) body[key] = chat[key];

  const paramFor = (param: string | null): string | null => {
    if (param === null) return null;
    const item = /^input\[(\d+)\](.*)$/.exec(param);
    if (item) {
      const origin = origins[Number(item[1])] ?? 'messages';
      const rest = item[2] ?? '';
      if (origin.startsWith('mcp_approval_responses')) return `${origin}${rest}`;
      if (rest === '.call_id') return origin.includes('.tool_calls[') ? `${origin}.id` : `${origin}.tool_call_id`;
      return origin;
    }
    if (param === 'input') return 'messages';
    if (param === 'max_output_tokens') return chat.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
    if (param.startsWith('text.format')) return 'response_format';
    if (param === 'text.verbosity') return 'verbosity';
    if (param.startsWith('reasoning')) return 'reasoning_effort';
    if (param.startsWith('tool_choice')) return 'tool_choice';
    const tool = /^tools\[(\d+)\]\.(name|description|parameters|strict)$/.exec(param);
    if (tool && chat.tools?.[Number(tool[1])]?.type === 'function') return `tools[${tool[1]}].function.${tool[2]}`;
    return param;
  };

  try {
    return { request: parseCreateRequest(body), paramFor };
  } catch (err) {
    throw rebaseParam(err, paramFor);
  }
}

/** The same error, naming the Chat parameter instead of the Responses one. */
export function rebaseParam(err: unknown, paramFor: (p: string | null) => string | null): unknown {
  if (!(err instanceof ApiError) || err.param === null) return err;
  const param = paramFor(err.param);
  if (param === err.param) return err;
  return new ApiError(err.status, err.message.replaceAll(`'${err.param}'`, `'${param}'`), err.type, err.code, param, { cause: err });
}
