import { z } from 'zod';
import { ServiceTierSchema, type CreateResponseRequest, type TextFormat } from './request.ts';
import { echoFunctionTool, HostedToolSchema, LITELLM_PROXY_URL, McpRequireApprovalSchema, McpToolFilterSchema, ToolChoiceSchema, type Tool } from './tools.ts';
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

/**
 * `Response.error.code`: the OpenAI API's closed list (openai-node's `ResponseError['code']`).
 * Spool uses `server_error`, `rate_limit_exceeded` and `invalid_prompt` (an upstream 400).
 */
export const ResponseErrorCodeSchema = z.enum([
  'server_error',
  'rate_limit_exceeded',
  'invalid_prompt',
  'data_residency_mismatch',
  'bio_policy',
  'misalignment_policy_violation',
  'vector_store_timeout',
  'invalid_image',
  'invalid_image_format',
  'invalid_base64_image',
  'invalid_image_url',
  'image_too_large',
  'image_too_small',
  'image_parse_error',
  'image_content_policy_violation',
  'invalid_image_mode',
  'image_file_too_large',
  'unsupported_image_media_type',
  'empty_image_file',
  'failed_to_download_image',
  'image_file_not_found',
]);
export type ResponseErrorCode = z.infer<typeof ResponseErrorCodeSchema>;
const ResponseErrorSchema = z.object({ code: ResponseErrorCodeSchema, message: z.string() });
export type ResponseError = z.infer<typeof ResponseErrorSchema>;

/**
 * The Response object exactly as emitted. Every key the Open Responses validators require is
 * present, with OpenAI's defaults, in JSON answers and inside every lifecycle event.
 * `output` is typed loosely here (items have their own types in items.ts).
 */
/*
 * The request's tools, tool choice and text format as a Response echoes them: every key present
 * (Open Responses requires them, nullable), MCP credentials never (headers is always null).
 */
const EchoedFunctionToolSchema = z.object({
  type: z.literal('function'),
  name: z.string(),
  description: z.string().nullable(),
  parameters: z.record(z.string(), z.unknown()).nullable(),
  strict: z.boolean().nullable(),
});
const EchoedMcpToolSchema = z.object({
  type: z.literal('mcp'),
  server_label: z.string(),
  server_url: z.string().nullable(),
  server_description: z.string().nullable(),
  allowed_tools: z.union([z.array(z.string()), McpToolFilterSchema]).nullable(),
  require_approval: McpRequireApprovalSchema.nullable(),
  headers: z.null(),
});
const EchoedToolSchema = z.discriminatedUnion('type', [EchoedFunctionToolSchema, EchoedMcpToolSchema, HostedToolSchema]);
type EchoedTool = z.infer<typeof EchoedToolSchema>;

const EchoedTextFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({ type: z.literal('json_schema'), name: z.string(), description: z.string().nullable(), schema: z.record(z.string(), z.unknown()), strict: z.boolean() }),
]);

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
  reasoning: z.object({ effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullable(), summary: z.enum(['auto', 'concise', 'detailed']).nullable() }).nullable(),
  safety_identifier: z.string().nullable(),
  service_tier: ServiceTierSchema,
  store: z.boolean(),
  temperature: z.number(),
  text: z.object({ format: EchoedTextFormatSchema, verbosity: z.enum(['low', 'medium', 'high']).exactOptional() }),
  tool_choice: ToolChoiceSchema,
  tools: z.array(EchoedToolSchema),
  top_logprobs: z.number().int(),
  top_p: z.number(),
  presence_penalty: z.number(),
  frequency_penalty: z.number(),
  truncation: z.enum(['auto', 'disabled']),
  usage: UsageSchema.nullable(),
  /** Present only when the request set it (the openai SDK types it `user?: string`). */
  user: z.string().exactOptional(),
  /** Always null: Spool has no domain-specific access programs (the openai SDK's type has the field). */
  access_programs: z.null(),
  /** The conversation the response belongs to (`conversation` on create); absent otherwise. */
  conversation: z.object({ id: z.string() }).exactOptional(),
});
export type Response = Omit<z.infer<typeof ResponseSchema>, 'output'> & { output: OutputItem[] };

/** The tool as echoed: MCP credentials never appear, and the server URL loses its path. */
export function echoTool(tool: Tool): EchoedTool {
  if (tool.type === 'function') return echoFunctionTool(tool);
  if (tool.type !== 'mcp') return { ...tool };
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
    return url === LITELLM_PROXY_URL ? url : '';
  }
}

/** `json_schema` formats are echoed with every key present (description and strict included). */
function echoFormat(format: TextFormat | undefined): z.infer<typeof EchoedTextFormatSchema> {
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
    ...(r.user ? { user: r.user } : {}),
    access_programs: null,
  };
}
