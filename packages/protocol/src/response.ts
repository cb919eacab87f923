import { z } from 'zod';
import type { CreateResponseRequest, TextFormat } from './request.ts';
import { echoFunctionTool, type Tool } from './tools.ts';
import type { OutputItem } from './items.ts';

export const ResponseStatusSchema = z.enum(['queued', 'in_progress', 'completed', 'failed', 'incomplete', 'cancelled']);
export type ResponseStatus = z.infer<typeof ResponseStatusSchema>;
export const TERMINAL_STATUSES: ReadonlySet<ResponseStatus> = new Set(['completed', 'failed', 'incomplete', 'cancelled']);
export function isTerminal(status: ResponseStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export const UsageSchema = z.object({
  input_tokens: z.number().int(),
  input_tokens_details: z.object({ cached_tokens: z.number().int() }),
  output_tokens: z.number().int(),
  output_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
  total_tokens: z.number().int(),
});
export type Usage = z.infer<typeof UsageSchema>;

export const ResponseErrorSchema = z.object({ code: z.string(), message: z.string() });
export type ResponseError = z.infer<typeof ResponseErrorSchema>;

/**
 * The Response object exactly as emitted. Every key the Open Responses validators require is
 * present, with OpenAI's defaults, in JSON answers and inside every lifecycle event.
 * `output` is typed loosely here (items have their own types in items.ts).
 */
export const ResponseSchema = z.object({
  id: z.string(),
  object: z.literal('response'),
  created_at: z.number().int(),
  completed_at: z.number().int().nullable(),
  status: ResponseStatusSchema,
  background: z.boolean(),
  error: ResponseErrorSchema.nullable(),
  incomplete_details: z.object({ reason: z.enum(['max_output_tokens', 'content_filter']) }).nullable(),
  instructions: z.string().nullable(),
  max_output_tokens: z.number().int().nullable(),
  max_tool_calls: z.number().int().nullable(),
  metadata: z.record(z.string(), z.string()),
  model: z.string(),
  output: z.array(z.record(z.string(), z.unknown())),
  parallel_tool_calls: z.boolean(),
  previous_response_id: z.string().nullable(),
  prompt_cache_key: z.string().nullable(),
  reasoning: z.object({ effort: z.string().nullable(), summary: z.string().nullable() }).nullable(),
  safety_identifier: z.string().nullable(),
  service_tier: z.string(),
  store: z.boolean(),
  temperature: z.number(),
  text: z.object({ format: z.record(z.string(), z.unknown()), verbosity: z.string().optional() }),
  tool_choice: z.unknown(),
  tools: z.array(z.record(z.string(), z.unknown())),
  top_logprobs: z.number().int(),
  top_p: z.number(),
  presence_penalty: z.number(),
  frequency_penalty: z.number(),
  truncation: z.enum(['auto', 'disabled']),
  usage: UsageSchema.nullable(),
  user: z.string().nullable(),
  /** The conversation the response belongs to (`conversation` on create); absent otherwise. */
  conversation: z.object({ id: z.string() }).optional(),
});
export type Response = Omit<z.infer<typeof ResponseSchema>, 'output'> & { output: OutputItem[] };

/** The tool as echoed: MCP credentials never appear, and the server URL loses its path. */
export function echoTool(tool: Tool): Record<string, unknown> {
  if (tool.type === 'function') return echoFunctionTool(tool);
  return {
    type: 'mcp',
    server_label: tool.server_label,
    server_url: tool.server_url ? redactServerUrl(tool.server_url) : null,
    server_description: tool.server_description ?? null,
    allowed_tools: tool.allowed_tools ?? null,
    require_approval: tool.require_approval ?? null,
    headers: null,
  };
}

/** `https://example.com/mcp?token=x` → `https://example.com`: paths and queries often carry secrets. */
export function redactServerUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return url === 'litellm_proxy' ? url : '';
  }
}

/** `json_schema` formats are echoed with every key present (description and strict included). */
function echoFormat(format: TextFormat | undefined): Record<string, unknown> {
  if (!format) return { type: 'text' };
  if (format.type !== 'json_schema') return format;
  return { type: 'json_schema', name: format.name, description: format.description ?? null, schema: format.schema, strict: format.strict ?? false };
}

export interface NewResponseOptions {
  id: string;
  request: CreateResponseRequest;
  createdAt: number;
  status: ResponseStatus;
}

/** The initial Response for a create request, with every default filled in. */
export function buildResponse({ id, request: r, createdAt, status }: NewResponseOptions): Response {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    completed_at: null,
    status,
    background: r.background ?? false,
    error: null,
    incomplete_details: null,
    instructions: r.instructions ?? null,
    max_output_tokens: r.max_output_tokens ?? null,
    max_tool_calls: r.max_tool_calls ?? null,
    metadata: r.metadata ?? {},
    model: r.model,
    output: [],
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    previous_response_id: r.previous_response_id ?? null,
    prompt_cache_key: r.prompt_cache_key ?? null,
    reasoning: r.reasoning ? { effort: r.reasoning.effort ?? null, summary: r.reasoning.summary ?? r.reasoning.generate_summary ?? null } : null,
    safety_identifier: r.safety_identifier ?? null,
    service_tier: r.service_tier ?? 'default',
    store: r.store ?? true,
    temperature: r.temperature ?? 1,
    text: { format: echoFormat(r.text?.format), ...(r.text?.verbosity ? { verbosity: r.text.verbosity } : {}) },
    tool_choice: r.tool_choice ?? 'auto',
    tools: (r.tools ?? []).map(echoTool),
    top_logprobs: r.top_logprobs ?? 0,
    top_p: r.top_p ?? 1,
    presence_penalty: r.presence_penalty ?? 0,
    frequency_penalty: r.frequency_penalty ?? 0,
    truncation: r.truncation ?? 'disabled',
    usage: null,
    user: r.user ?? null,
  };
}
