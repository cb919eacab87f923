import { z } from 'zod';
import { ApiError } from './errors.ts';
import { InputItemSchema, SUPPORTED_INPUT_ITEM_TYPES } from './items.ts';
import { HOSTED_TOOL_TYPES, SUPPORTED_TOOL_TYPES, ToolChoiceSchema, ToolSchema } from './tools.ts';

/** OpenAI's service tiers (openai-node's `ServiceTier`). */
export const ServiceTierSchema = z.enum(['auto', 'default', 'flex', 'scale', 'priority', 'fast', 'ultrafast']);

export const MetadataSchema = z.record(z.string().max(64), z.string().max(512)).refine((m) => Object.keys(m).length <= 16, 'metadata holds at most 16 pairs');

export const TextFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    name: z.string(),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
]);
export type TextFormat = z.infer<typeof TextFormatSchema>;

/** `context_management` on create: compact the context first when it passes `compact_threshold` tokens. */
/**
 * `[{type: 'compaction', compact_threshold}]`. The threshold is required here (the OpenAI API has a
 * default of its own): without one Spool would not know when to compact, and ignoring the entry
 * would be a silent downgrade.
 */
export const ContextManagementSchema = z.array(z.object({ type: z.literal('compaction'), compact_threshold: z.number().int().min(1) })).max(1);
export type ContextManagement = z.infer<typeof ContextManagementSchema>;

/**
 * `POST /v1/responses`. Unknown fields are accepted and dropped (clients send newer fields than we
 * know); known fields are checked strictly so a typo in a value is a 400 that names the parameter.
 */
export const CreateResponseRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(InputItemSchema)]).optional(),
  instructions: z.string().nullish(),
  previous_response_id: z.string().nullish(),
  background: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  tools: z.array(ToolSchema).nullish(),
  tool_choice: ToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  max_tool_calls: z.number().int().min(0).nullish(),
  metadata: MetadataSchema.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  text: z.object({ format: TextFormatSchema.optional(), verbosity: z.enum(['low', 'medium', 'high']).nullish() }).nullish(),
  // OpenAI's values; Open Responses lists `minimal` in prose but not in its enum (an OpenAI client sends it).
  reasoning: z
    .object({
      effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
      summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
      generate_summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
    })
    .nullish(),
  service_tier: ServiceTierSchema.nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  user: z.string().nullish(),
  stream_options: z.object({ include_obfuscation: z.boolean().optional() }).nullish(),
  include: z.array(z.string()).nullish(),
  prompt_cache_retention: z.enum(['in_memory', '24h']).nullish(),
  // Known to the OpenAI API and not served by Spool: kept here so params.ts can refuse them by name.
  prompt: z.unknown().optional(),
  moderation: z.unknown().optional(),
  image: z.unknown().optional(),
  access_programs: z.unknown().optional(),
  prompt_cache_options: z.unknown().optional(),
  /** `[{type: 'compaction', compact_threshold}]`: compact the context first when it is larger (see compact.ts). */
  context_management: ContextManagementSchema.nullish(),
  /** A conversation id, or `{id}`: its items are the context, and the response is appended to it. */
  conversation: z.union([z.string().min(1), z.object({ id: z.string().min(1) })]).nullish(),
});
export type CreateResponseRequest = z.infer<typeof CreateResponseRequestSchema>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Clear messages for features a client may expect but this server does not have. */
function refuseUnsupported(body: Record<string, unknown>): void {
  if (Array.isArray(body.tools)) {
    body.tools.forEach((tool, i) => {
      const type = isRecord(tool) ? tool.type : undefined;
      // Hosted types pass here; whether the model's route takes them is checked with the route (params.ts).
      if (typeof type === 'string' && !(SUPPORTED_TOOL_TYPES as readonly string[]).includes(type) && !(HOSTED_TOOL_TYPES as readonly string[]).includes(type)) {
        throw ApiError.badRequest(`Tool type '${type}' is not supported by this server. Supported tool types: ${SUPPORTED_TOOL_TYPES.join(', ')}.`, `tools[${i}].type`, 'unsupported_tool_type');
      }
    });
  }
  if (Array.isArray(body.input)) {
    body.input.forEach((item, i) => {
      const type = isRecord(item) ? item.type : undefined;
      if (typeof type === 'string' && !(SUPPORTED_INPUT_ITEM_TYPES as readonly string[]).includes(type)) {
        throw ApiError.badRequest(`Input item type '${type}' is not supported by this server. Supported: ${SUPPORTED_INPUT_ITEM_TYPES.join(', ')}.`, `input[${i}].type`, 'unsupported_input_type');
      }
    });
  }
}

/** Turns a zod issue path into OpenAI's `param` form: `input[0].content`. */
export function paramFromPath(path: ReadonlyArray<PropertyKey>): string | null {
  if (path.length === 0) return null;
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

type Issue = z.core.$ZodIssue;

/**
 * For a value that matched no branch of a union (`input` is a string or an item list), the most
 * useful message is the branch that got furthest: `input[0].content`, not just `input`.
 */
function deepest(issue: Issue, prefix: PropertyKey[] = []): Issue {
  const here = { ...issue, path: [...prefix, ...issue.path] } as Issue;
  if (issue.code !== 'invalid_union' || !('errors' in issue) || issue.errors.length === 0) return here;
  let best: Issue = here;
  for (const branch of issue.errors) {
    for (const sub of branch) {
      const d = deepest(sub, here.path);
      if (d.path.length > best.path.length) best = d;
    }
  }
  return best;
}

/** Parses a zod result into the value or a 400 that names the first bad parameter. */
export function parseOrBadRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const issue = first ? deepest(first) : undefined;
  const param = issue ? paramFromPath(issue.path) : null;
  const message = issue
    ? issue.code === 'invalid_type' && issue.input === undefined
      ? `Missing required parameter: '${param ?? 'body'}'.`
      : `Invalid value for '${param ?? 'body'}': ${issue.message}`
    : 'Invalid request body.';
  const code = issue?.code === 'invalid_type' && issue.input === undefined ? 'missing_required_parameter' : 'invalid_value';
  throw ApiError.badRequest(message, param, code);
}

export function parseCreateRequest(body: unknown): CreateResponseRequest {
  if (!isRecord(body)) throw ApiError.badRequest('The request body must be a JSON object.', null, 'invalid_json');
  refuseUnsupported(body);
  return parseOrBadRequest(CreateResponseRequestSchema, body);
}
