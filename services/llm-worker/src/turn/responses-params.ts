import type { ResponseCreateParamsStreaming, ResponseInputItem, Tool } from 'openai/resources/responses/responses';
import { isDropped, type CreateResponseRequest } from '@spool/protocol';
import { offeredFunctions, wantsLogprobs, type ModelFunction } from './params.ts';

/**
 * The Responses request for one model turn on a native route. Parameters keep their Responses
 * names and shapes (nothing is mapped, so nothing is lost); only those the client set are sent,
 * and a route's `drop_params` are not. The upstream is stateless for Spool (`store: false`): the
 * whole context is in `input`, and `reasoning.encrypted_content` is always asked for, because it
 * is how reasoning comes back on the next turn.
 */
export function buildResponsesParams(opts: {
  request: CreateResponseRequest;
  model: string;
  input: ResponseInputItem[];
  functions: ModelFunction[];
  /** Hosted tools of the request the route passes through (`hosted_tools`), as the client gave them. */
  hostedTools?: Tool[];
  forcedFunction?: string | null;
  toolsExhausted?: boolean;
  dropParams?: ReadonlySet<string>;
}): ResponseCreateParamsStreaming {
  const r = opts.request;
  const drop = opts.dropParams ?? new Set<string>();
  const keep = (param: string) => !isDropped(drop, param);
  const params: ResponseCreateParamsStreaming = { model: opts.model, input: opts.input, stream: true, store: false };
  if (r.instructions) params.instructions = r.instructions;
  if (r.temperature != null && keep('temperature')) params.temperature = r.temperature;
  if (r.top_p != null && keep('top_p')) params.top_p = r.top_p;
  if (r.max_output_tokens != null && keep('max_output_tokens')) params.max_output_tokens = r.max_output_tokens;
  if (r.max_tool_calls != null && keep('max_tool_calls')) params.max_tool_calls = r.max_tool_calls;
  if (r.safety_identifier && keep('safety_identifier')) params.safety_identifier = r.safety_identifier;
  if (r.prompt_cache_key && keep('prompt_cache_key')) params.prompt_cache_key = r.prompt_cache_key;
  if (r.prompt_cache_retention && keep('prompt_cache_retention')) params.prompt_cache_retention = r.prompt_cache_retention;
  if (r.service_tier && keep('service_tier')) params.service_tier = r.service_tier as NonNullable<ResponseCreateParamsStreaming['service_tier']>;
  if (r.truncation && keep('truncation')) params.truncation = r.truncation;
  if (r.user && keep('user')) params.user = r.user;
  if (r.metadata && Object.keys(r.metadata).length > 0 && keep('metadata')) params.metadata = r.metadata;
  if (r.top_logprobs != null && keep('top_logprobs')) params.top_logprobs = r.top_logprobs;
  const summary = r.reasoning?.summary ?? r.reasoning?.generate_summary;
  const reasoning = {
    ...(r.reasoning?.effort && keep('reasoning.effort') ? { effort: r.reasoning.effort } : {}),
    ...(summary && keep('reasoning.summary') ? { summary } : {}),
  };
  if (Object.keys(reasoning).length > 0) params.reasoning = reasoning;
  const text = {
    ...(r.text?.format && keep('text.format') ? { format: r.text.format } : {}),
    ...(r.text?.verbosity && keep('text.verbosity') ? { verbosity: r.text.verbosity } : {}),
  };
  if (Object.keys(text).length > 0) params.text = text as NonNullable<ResponseCreateParamsStreaming['text']>;
  const include = new Set<string>(keep('include') ? (r.include ?? []) : []);
  if (wantsLogprobs(r, drop)) include.add('message.output_text.logprobs');
  include.add('reasoning.encrypted_content');
  params.include = [...include] as NonNullable<ResponseCreateParamsStreaming['include']>;

  const { functions, choice } = offeredFunctions(r, opts.functions, opts.forcedFunction ?? null, opts.toolsExhausted ?? false);
  const tools: Tool[] = [
    ...functions.map((f): Tool => ({ type: 'function', name: f.name, description: f.description, parameters: f.parameters ?? { type: 'object', properties: {} }, strict: f.strict })),
    ...(opts.toolsExhausted ? [] : (opts.hostedTools ?? [])),
  ];
  if (tools.length > 0) {
    params.tools = tools;
    if (choice) params.tool_choice = typeof choice === 'string' ? choice : { type: 'function', name: choice.name };
    if (r.parallel_tool_calls != null && keep('parallel_tool_calls')) params.parallel_tool_calls = r.parallel_tool_calls;
  }
  return params;
}
