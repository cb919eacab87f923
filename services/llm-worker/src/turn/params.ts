import type { ChatCompletionCreateParamsStreaming, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { isDropped, type CreateResponseRequest, type FunctionTool } from '@spool/protocol';

/** A function offered to the model: the client's own, or an MCP tool under its unique name. */
export interface ModelFunction {
  name: string;
  description: string | null;
  parameters: Record<string, unknown> | null;
  strict: boolean | null;
}

export function functionToolToModel(t: FunctionTool): ModelFunction {
  return { name: t.name, description: t.description ?? null, parameters: t.parameters ?? null, strict: t.strict ?? null };
}

/**
 * The Chat Completions request for one model turn. Only parameters the client set are sent, so an
 * upstream's own defaults apply otherwise. `allowed_tools` is enforced here by offering only the
 * allowed functions.
 */
export function buildChatParams(opts: {
  request: CreateResponseRequest;
  model: string;
  maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  messages: ChatCompletionMessageParam[];
  functions: ModelFunction[];
  /** Forces a specific function (tool_choice of type mcp resolves to one). */
  forcedFunction?: string | null;
  /** No further tool calls allowed (max_tool_calls reached). */
  toolsExhausted?: boolean;
  /** The route's `drop_params`: these are not forwarded. */
  dropParams?: ReadonlySet<string>;
  /** The route takes `metadata` (send_metadata). */
  sendMetadata?: boolean;
}): ChatCompletionCreateParamsStreaming {
  const r = opts.request;
  const drop = opts.dropParams ?? new Set<string>();
  const keep = (param: string) => !isDropped(drop, param);
  const params: ChatCompletionCreateParamsStreaming = {
    model: opts.model,
    messages: opts.messages,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (r.temperature != null && keep('temperature')) params.temperature = r.temperature;
  if (r.top_p != null && keep('top_p')) params.top_p = r.top_p;
  if (r.presence_penalty != null && keep('presence_penalty')) params.presence_penalty = r.presence_penalty;
  if (r.frequency_penalty != null && keep('frequency_penalty')) params.frequency_penalty = r.frequency_penalty;
  if (r.max_output_tokens != null && keep('max_output_tokens')) params[opts.maxTokensParam] = r.max_output_tokens;
  if (r.safety_identifier && keep('safety_identifier')) params.safety_identifier = r.safety_identifier;
  if (r.prompt_cache_key && keep('prompt_cache_key')) params.prompt_cache_key = r.prompt_cache_key;
  if (r.prompt_cache_retention && keep('prompt_cache_retention')) params.prompt_cache_retention = r.prompt_cache_retention;
  // Responses names → Chat Completions names.
  if (r.reasoning?.effort && keep('reasoning.effort')) params.reasoning_effort = r.reasoning.effort;
  if (r.text?.verbosity && keep('text.verbosity')) params.verbosity = r.text.verbosity;
  if (r.service_tier && keep('service_tier')) params.service_tier = r.service_tier as NonNullable<ChatCompletionCreateParamsStreaming['service_tier']>;
  if (r.user && keep('user')) params.user = r.user;
  if (r.metadata && Object.keys(r.metadata).length > 0 && opts.sendMetadata && keep('metadata')) params.metadata = r.metadata;
  if (wantsLogprobs(r, drop)) {
    params.logprobs = true;
    if (r.top_logprobs && keep('top_logprobs')) params.top_logprobs = r.top_logprobs;
  }

  const format = keep('text.format') ? r.text?.format : undefined;
  if (format?.type === 'json_object') params.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    params.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(format.strict != null ? { strict: format.strict } : {}),
        ...(format.description ? { description: format.description } : {}),
      },
    };
  }

  const { functions, choice } = offeredFunctions(r, opts.functions, opts.forcedFunction ?? null, opts.toolsExhausted ?? false);
  if (functions.length > 0) {
    params.tools = functions.map((f): ChatCompletionTool => ({
      type: 'function',
      function: {
        name: f.name,
        ...(f.description ? { description: f.description } : {}),
        parameters: f.parameters ?? { type: 'object', properties: {} },
        ...(f.strict != null ? { strict: f.strict } : {}),
      },
    }));
    if (choice) params.tool_choice = typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
    if (r.parallel_tool_calls != null && keep('parallel_tool_calls')) params.parallel_tool_calls = r.parallel_tool_calls;
  }
  return params;
}

/**
 * The functions offered in one model turn and the choice among them, whatever the protocol:
 * `allowed_tools` is enforced by offering only the allowed functions, a forced MCP tool becomes a
 * forced function, and none are offered once `max_tool_calls` is reached.
 */
export function offeredFunctions(
  r: Pick<CreateResponseRequest, 'tool_choice'>,
  all: ModelFunction[],
  forcedFunction: string | null,
  toolsExhausted: boolean,
): { functions: ModelFunction[]; choice: 'none' | 'auto' | 'required' | { name: string } | undefined } {
  let functions = all;
  let choice: 'none' | 'auto' | 'required' | { name: string } | undefined;
  const tc = r.tool_choice;
  if (tc === 'none' || tc === 'auto' || tc === 'required') choice = tc;
  else if (tc?.type === 'function') choice = { name: tc.name };
  else if (tc?.type === 'allowed_tools') {
    const allowed = new Set(tc.tools.map((t) => (typeof t.name === 'string' ? t.name : '')).filter(Boolean));
    functions = functions.filter((f) => allowed.has(f.name));
    choice = tc.mode;
  }
  if (forcedFunction) choice = { name: forcedFunction };
  if (toolsExhausted) functions = [];
  return { functions, choice };
}

/**
 * Token logprobs are asked of the upstream when the client asked for them: `top_logprobs > 0`,
 * or `include: ["message.output_text.logprobs"]` (the Responses API's two ways).
 */
export function wantsLogprobs(r: Pick<CreateResponseRequest, 'top_logprobs' | 'include'>, drop: ReadonlySet<string> = new Set()): boolean {
  const viaTop = (r.top_logprobs ?? 0) > 0 && !isDropped(drop, 'top_logprobs');
  const viaInclude = (r.include ?? []).includes('message.output_text.logprobs') && !isDropped(drop, 'include');
  return viaTop || viaInclude;
}
