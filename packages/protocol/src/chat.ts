import { z } from 'zod';
import { ApiError } from './errors.ts';
import { parseOrBadRequest } from './request.ts';
import { McpToolSchema } from './tools.ts';

/*
 * `POST /v1/chat/completions`: the OpenAI Chat Completions wire shapes Spool accepts and emits,
 * plus the MCP extensions LiteLLM's gateway defined for this endpoint (`{"type": "mcp"}` tools,
 * `provider_specific_fields` on the message or on the final chunk's delta). Like the Responses
 * request, unknown fields are accepted and dropped; known fields are checked strictly so a bad
 * value is a 400 that names its parameter.
 */

const TextPartSchema = z.object({ type: z.literal('text'), text: z.string() });
const ImagePartSchema = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).nullish() }),
});
const FilePartSchema = z.object({
  type: z.literal('file'),
  file: z.object({ file_data: z.string().nullish(), file_id: z.string().nullish(), filename: z.string().nullish() }),
});
const RefusalPartSchema = z.object({ type: z.literal('refusal'), refusal: z.string() });
const TextContentSchema = z.union([z.string(), z.array(TextPartSchema)]);

const ChatToolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
export type ChatToolCall = z.infer<typeof ChatToolCallSchema>;

const name = z.string().nullish();

export const ChatMessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: TextContentSchema, name }),
  z.object({ role: z.literal('developer'), content: TextContentSchema, name }),
  z.object({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [TextPartSchema, ImagePartSchema, FilePartSchema]))]),
    name,
  }),
  z.object({
    role: z.literal('assistant'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [TextPartSchema, RefusalPartSchema]))]).nullish(),
    refusal: z.string().nullish(),
    tool_calls: z.array(ChatToolCallSchema).nullish(),
    name,
    // What Spool reported on this message, sent back as clients do with the message object they got.
    provider_specific_fields: z.record(z.string(), z.unknown()).nullish(),
  }),
  z.object({ role: z.literal('tool'), content: TextContentSchema, tool_call_id: z.string().min(1) }),
]);
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

const ChatFunctionToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes'),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
});

/** Function tools, and LiteLLM's MCP tool entry (the Responses API's `mcp` tool, same fields). */
export const ChatToolSchema = z.discriminatedUnion('type', [ChatFunctionToolSchema, McpToolSchema]);
export type ChatTool = z.infer<typeof ChatToolSchema>;

const NamedFunctionSchema = z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) });

const ChatToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  NamedFunctionSchema,
  z.object({
    type: z.literal('allowed_tools'),
    allowed_tools: z.object({ mode: z.enum(['auto', 'required']), tools: z.array(NamedFunctionSchema) }),
  }),
  // As in the Responses API: force a call to one MCP server (or one of its tools).
  z.object({ type: z.literal('mcp'), server_label: z.string(), name: z.string().nullish() }),
]);
export type ChatToolChoice = z.infer<typeof ChatToolChoiceSchema>;

const ChatResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string(),
      schema: z.record(z.string(), z.unknown()).nullish(),
      description: z.string().nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

/**
 * Spool's answer to a pending approval (an extension: Chat Completions has no approval message).
 * The same fields as the Responses API's `mcp_approval_response` item.
 */
const ChatMcpApprovalResponseSchema = z.object({
  type: z.literal('mcp_approval_response').optional(),
  approval_request_id: z.string().min(1),
  approve: z.boolean(),
  reason: z.string().nullish(),
});

export const ChatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(ChatMessageSchema).min(1, 'at least one message is required'),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish(), include_obfuscation: z.boolean().nullish() }).nullish(),
  tools: z.array(ChatToolSchema).nullish(),
  tool_choice: ChatToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  // As in the Responses API: a bound on the MCP calls one request may run (the turn limit applies too).
  max_tool_calls: z.number().int().min(0).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  response_format: ChatResponseFormatSchema.nullish(),
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
  verbosity: z.enum(['low', 'medium', 'high']).nullish(),
  n: z.number().int().min(1).nullish(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullish(),
  user: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  service_tier: z.string().nullish(),
  // Accepted and not forwarded: determinism is best-effort at OpenAI too, and `store` (OpenAI's
  // stored completions) has no meaning here; the response behind a chat completion is never stored.
  seed: z.number().int().nullish(),
  store: z.boolean().nullish(),
  mcp_approval_responses: z.array(ChatMcpApprovalResponseSchema).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const present = (v: unknown) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(isRecord(v) && Object.keys(v).length === 0);

/**
 * Parameters with no counterpart in Spool's pipeline are refused by name, never dropped: a client
 * that sets `stop` or `logprobs` would otherwise get an answer that silently ignores them.
 */
function refuseUnsupported(body: Record<string, unknown>): void {
  const unsupported = (param: string, why: string) => ApiError.badRequest(`The '${param}' parameter is not supported by this server: ${why}`, param, 'unsupported_parameter');
  if (present(body.functions) || present(body.function_call)) {
    throw unsupported(present(body.functions) ? 'functions' : 'function_call', "the deprecated functions API; use 'tools' and 'tool_choice'.");
  }
  if (typeof body.n === 'number' && body.n > 1) throw unsupported('n', 'one choice (n=1) is generated per request.');
  if (present(body.stop)) throw unsupported('stop', 'stop sequences are not passed to the model.');
  if (body.logprobs === true) throw unsupported('logprobs', 'log probabilities are not returned.');
  if (typeof body.top_logprobs === 'number' && body.top_logprobs > 0) throw unsupported('top_logprobs', 'log probabilities are not returned.');
  if (present(body.logit_bias)) throw unsupported('logit_bias', 'logit biases are not passed to the model.');
  if (present(body.audio) || (Array.isArray(body.modalities) && body.modalities.some((m) => m !== 'text'))) {
    throw unsupported(present(body.audio) ? 'audio' : 'modalities', 'only text output is supported.');
  }
  if (present(body.prediction)) throw unsupported('prediction', 'predicted outputs are not supported.');
  if (present(body.web_search_options)) throw unsupported('web_search_options', 'hosted web search is not supported; give an MCP tool instead.');
  if (Array.isArray(body.messages)) {
    body.messages.forEach((m, i) => {
      if (!isRecord(m)) return;
      if (m.role === 'function')
        throw ApiError.badRequest("Messages with role 'function' (the deprecated functions API) are not supported; use 'tool' messages.", `messages[${i}].role`, 'unsupported_parameter');
      if (Array.isArray(m.content)) {
        m.content.forEach((p, j) => {
          if (isRecord(p) && p.type === 'input_audio') {
            throw ApiError.badRequest('Audio input is not supported by this server.', `messages[${i}].content[${j}].type`, 'unsupported_parameter');
          }
        });
      }
    });
  }
  if (Array.isArray(body.tools)) {
    body.tools.forEach((t, i) => {
      const type = isRecord(t) ? t.type : undefined;
      if (typeof type === 'string' && type !== 'function' && type !== 'mcp') {
        throw ApiError.badRequest(`Tool type '${type}' is not supported by this server. Supported tool types: function, mcp.`, `tools[${i}].type`, 'unsupported_tool_type');
      }
    });
  }
}

/** Parses a `/v1/chat/completions` body, or throws a 400 that names the bad parameter. */
export function parseChatCompletionRequest(body: unknown): ChatCompletionRequest {
  if (!isRecord(body)) throw ApiError.badRequest('The request body must be a JSON object.', null, 'invalid_json');
  refuseUnsupported(body);
  return parseOrBadRequest(ChatCompletionRequestSchema, body);
}

/* ------------------------------------------------------------------------------------------ */
/* What Spool emits. Optional keys are exact (absent, never `undefined`), so that the inferred   */
/* types assign to openai-node's under exactOptionalPropertyTypes.                            */

/**
 * LiteLLM's MCP report on `/chat/completions`, so that its clients find it where they look
 * (BerriAI/litellm `litellm/responses/mcp/chat_completions_handler.py`, `_add_mcp_metadata_to_response`):
 * - `mcp_list_tools`: the MCP tools offered to the model, as Chat Completions function tools;
 * - `mcp_tool_calls`: the calls Spool ran, as Chat Completions tool calls;
 * - `mcp_call_results`: one `{tool_call_id, result}` per call (`result` is the text the model saw;
 *   `name` is added, as LiteLLM's follow-up messages carry it).
 * `mcp_approval_requests` is Spool's: the calls waiting for the client's decision, in the Responses
 * API's `mcp_approval_request` shape.
 */
export const ChatMcpFieldsSchema = z.object({
  mcp_list_tools: z
    .array(z.object({ type: z.literal('function'), function: z.object({ name: z.string(), description: z.string().exactOptional(), parameters: z.record(z.string(), z.unknown()) }) }))
    .exactOptional(),
  mcp_tool_calls: z.array(ChatToolCallSchema).exactOptional(),
  mcp_call_results: z.array(z.object({ tool_call_id: z.string(), result: z.string(), name: z.string() })).exactOptional(),
  mcp_approval_requests: z.array(z.object({ type: z.literal('mcp_approval_request'), id: z.string(), server_label: z.string(), name: z.string(), arguments: z.string() })).exactOptional(),
});
export type ChatMcpFields = z.infer<typeof ChatMcpFieldsSchema>;

const ChatFinishReasonSchema = z.enum(['stop', 'length', 'tool_calls', 'content_filter']);
export type ChatFinishReason = z.infer<typeof ChatFinishReasonSchema>;

const ChatUsageSchema = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int() }),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
});
export type ChatUsage = z.infer<typeof ChatUsageSchema>;

export const ChatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({
        role: z.literal('assistant'),
        content: z.string().nullable(),
        refusal: z.string().nullable(),
        tool_calls: z.array(ChatToolCallSchema).exactOptional(),
        /** The model's reasoning, in the field LiteLLM, DeepSeek and vLLM use. */
        reasoning_content: z.string().exactOptional(),
        provider_specific_fields: ChatMcpFieldsSchema.exactOptional(),
      }),
      logprobs: z.null(),
      finish_reason: ChatFinishReasonSchema,
    }),
  ),
  usage: ChatUsageSchema.exactOptional(),
});
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

const ChatChunkToolCallSchema = z.object({
  index: z.number().int(),
  id: z.string().exactOptional(),
  type: z.literal('function').exactOptional(),
  function: z.object({ name: z.string().exactOptional(), arguments: z.string().exactOptional() }),
});

export const ChatCompletionChunkSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z.object({
        role: z.literal('assistant').exactOptional(),
        content: z.string().nullable().exactOptional(),
        refusal: z.string().nullable().exactOptional(),
        tool_calls: z.array(ChatChunkToolCallSchema).exactOptional(),
        reasoning_content: z.string().exactOptional(),
        provider_specific_fields: ChatMcpFieldsSchema.exactOptional(),
      }),
      logprobs: z.null(),
      finish_reason: ChatFinishReasonSchema.nullable(),
    }),
  ),
  usage: ChatUsageSchema.nullable().exactOptional(),
});
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunkSchema>;
