import { z } from 'zod';
import { McpElicitationRequestItemSchema, McpElicitationResponseItemSchema } from './elicitation.ts';

/*
 * Items: what goes into `input` and comes out in `output`. Shapes follow openai-node's
 * `ResponseInputItem` / `ResponseOutputItem`; ids and statuses are always present on what we emit
 * because the Open Responses validators require them.
 */

export const InputTextPartSchema = z.object({ type: z.literal('input_text'), text: z.string() });
export const InputImagePartSchema = z.object({
  type: z.literal('input_image'),
  image_url: z.string().nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['low', 'high', 'auto', 'original']).nullish(),
});
export const InputFilePartSchema = z.object({
  type: z.literal('input_file'),
  file_data: z.string().nullish(),
  file_id: z.string().nullish(),
  file_url: z.string().nullish(),
  filename: z.string().nullish(),
});
/** Output text sent back as input (an assistant turn of the history): read leniently. */
const InputOutputTextPartSchema = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()).default([]),
  logprobs: z.array(z.unknown()).optional(),
});
export const RefusalPartSchema = z.object({ type: z.literal('refusal'), refusal: z.string() });

export const InputContentPartSchema = z.discriminatedUnion('type', [InputTextPartSchema, InputImagePartSchema, InputFilePartSchema, InputOutputTextPartSchema, RefusalPartSchema]);
export type InputContentPart = z.infer<typeof InputContentPartSchema>;

export const MessageItemSchema = z.object({
  type: z.literal('message'),
  id: z.string().optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(InputContentPartSchema)]),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
  phase: z.enum(['commentary', 'final_answer']).nullish(),
});
export type MessageItem = z.infer<typeof MessageItemSchema>;

export const FunctionCallItemSchema = z.object({
  type: z.literal('function_call'),
  id: z.string().optional(),
  call_id: z.string().min(1),
  name: z.string(),
  arguments: z.string(),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
});
export type FunctionCallItem = z.infer<typeof FunctionCallItemSchema>;

export const FunctionCallOutputItemSchema = z.object({
  type: z.literal('function_call_output'),
  id: z.string().optional(),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(InputContentPartSchema)]),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
});
export type FunctionCallOutputItem = z.infer<typeof FunctionCallOutputItemSchema>;

export const McpToolInfoSchema = z.object({
  name: z.string(),
  input_schema: z.record(z.string(), z.unknown()),
  description: z.string().nullish(),
  annotations: z.record(z.string(), z.unknown()).nullish(),
});
export type McpToolInfo = z.infer<typeof McpToolInfoSchema>;

export const McpListToolsItemSchema = z.object({
  type: z.literal('mcp_list_tools'),
  id: z.string(),
  server_label: z.string(),
  tools: z.array(McpToolInfoSchema),
  error: z.string().nullish(),
});
export type McpListToolsItem = z.infer<typeof McpListToolsItemSchema>;

/** Structured MCP call errors, as openai-node 7.x types them. */
export const McpCallErrorSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('mcp_protocol_error'), code: z.number(), message: z.string() }),
  z.object({ type: z.literal('mcp_tool_execution_error'), content: z.array(z.unknown()) }),
  z.object({ type: z.literal('http_error'), code: z.number(), message: z.string() }),
]);
export type McpCallError = z.infer<typeof McpCallErrorSchema>;

export const McpCallItemSchema = z.object({
  type: z.literal('mcp_call'),
  id: z.string(),
  server_label: z.string(),
  name: z.string(),
  arguments: z.string(),
  output: z.string().nullish(),
  error: z.union([McpCallErrorSchema, z.string()]).nullish(),
  status: z.enum(['in_progress', 'completed', 'incomplete', 'calling', 'failed']).optional(),
  approval_request_id: z.string().nullish(),
});
export type McpCallItem = z.infer<typeof McpCallItemSchema>;

export const McpApprovalRequestItemSchema = z.object({
  type: z.literal('mcp_approval_request'),
  id: z.string(),
  server_label: z.string(),
  name: z.string(),
  arguments: z.string(),
});
export type McpApprovalRequestItem = z.infer<typeof McpApprovalRequestItemSchema>;

export const McpApprovalResponseItemSchema = z.object({
  type: z.literal('mcp_approval_response'),
  id: z.string().nullish(),
  approval_request_id: z.string().min(1),
  approve: z.boolean(),
  reason: z.string().nullish(),
});
export type McpApprovalResponseItem = z.infer<typeof McpApprovalResponseItemSchema>;

export const ReasoningItemSchema = z.object({
  type: z.literal('reasoning'),
  id: z.string(),
  summary: z.array(z.object({ type: z.literal('summary_text'), text: z.string() })),
  content: z.array(z.object({ type: z.literal('reasoning_text'), text: z.string() })).optional(),
  encrypted_content: z.string().nullish(),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
});
export type ReasoningItem = z.infer<typeof ReasoningItemSchema>;

export const ItemReferenceSchema = z.object({ type: z.literal('item_reference'), id: z.string().min(1) });

/**
 * A compaction item (`POST /v1/responses/compact`): the summary of an earlier context, sealed by
 * the server that made it. Passed back as input, it stands for everything it summarised.
 */
export const CompactionItemSchema = z.object({
  type: z.literal('compaction'),
  id: z.string().nullish(),
  encrypted_content: z
    .string()
    .min(1)
    .max(10 * 1024 * 1024),
  created_by: z.string().nullish(),
});
export type CompactionItem = z.infer<typeof CompactionItemSchema>;

const KnownInputItemSchema = z.discriminatedUnion('type', [
  MessageItemSchema,
  FunctionCallItemSchema,
  FunctionCallOutputItemSchema,
  McpListToolsItemSchema,
  McpCallItemSchema,
  McpApprovalRequestItemSchema,
  McpApprovalResponseItemSchema,
  McpElicitationRequestItemSchema,
  McpElicitationResponseItemSchema,
  ReasoningItemSchema,
  ItemReferenceSchema,
  CompactionItemSchema,
]);

export const SUPPORTED_INPUT_ITEM_TYPES = KnownInputItemSchema.options.map((o) => o.shape.type.value);

/**
 * An input item. The "easy" message form has no `type`; it is read as a message, as the OpenAI API
 * does. `item_reference` may also omit its type.
 */
export const InputItemSchema = z.preprocess((value) => {
  if (value && typeof value === 'object' && !Array.isArray(value) && !('type' in value)) {
    if ('role' in value) return { ...value, type: 'message' };
    if ('id' in value) return { ...value, type: 'item_reference' };
  }
  return value;
}, KnownInputItemSchema);
export type InputItem = z.infer<typeof KnownInputItemSchema>;

/*
 * Output items as Spool emits them: every field present. Schemas first, types inferred; the
 * parity test (test/types) holds these types against the openai package's.
 */

/** A token's logprob on output text, as the Responses API gives it (Chat's shape, minus nulls). */
export const TokenLogprobSchema = z.object({
  token: z.string(),
  logprob: z.number(),
  bytes: z.array(z.number()),
  top_logprobs: z.array(z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number()) })),
});
export type TokenLogprob = z.infer<typeof TokenLogprobSchema>;

/** Spool emits no annotations (no file search or web citations upstream of Chat Completions). */
export const OutputTextPartSchema = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.never()),
  logprobs: z.array(TokenLogprobSchema),
});
export type OutputTextPart = z.infer<typeof OutputTextPartSchema>;
export type RefusalPart = z.infer<typeof RefusalPartSchema>;

const ItemStatusSchema = z.enum(['in_progress', 'completed', 'incomplete']);

export const OutputMessageSchema = z.object({
  type: z.literal('message'),
  id: z.string(),
  role: z.literal('assistant'),
  status: ItemStatusSchema,
  content: z.array(z.union([OutputTextPartSchema, RefusalPartSchema])),
});
export type OutputMessage = z.infer<typeof OutputMessageSchema>;

export const OutputFunctionCallSchema = z.object({
  type: z.literal('function_call'),
  id: z.string(),
  call_id: z.string(),
  name: z.string(),
  arguments: z.string(),
  status: ItemStatusSchema,
});
export type OutputFunctionCall = z.infer<typeof OutputFunctionCallSchema>;

export const OutputMcpCallSchema = z.object({
  type: z.literal('mcp_call'),
  id: z.string(),
  server_label: z.string(),
  name: z.string(),
  arguments: z.string(),
  output: z.string().nullable(),
  error: McpCallErrorSchema.nullable(),
  status: z.enum(['in_progress', 'completed', 'incomplete', 'calling', 'failed']),
  approval_request_id: z.string().nullable(),
});
export type OutputMcpCall = z.infer<typeof OutputMcpCallSchema>;

/** A listed tool as emitted: every field present. */
export const OutputMcpToolInfoSchema = z.object({
  name: z.string(),
  input_schema: z.record(z.string(), z.unknown()),
  description: z.string().nullable(),
  annotations: z.record(z.string(), z.unknown()).nullable(),
});

export const OutputMcpListToolsSchema = z.object({
  type: z.literal('mcp_list_tools'),
  id: z.string(),
  server_label: z.string(),
  tools: z.array(OutputMcpToolInfoSchema),
  error: z.string().nullable(),
});
export type OutputMcpListTools = z.infer<typeof OutputMcpListToolsSchema>;

/** Reasoning text of a model turn, as the upstream streamed it (`reasoning_content` & co.). */
export const ReasoningTextPartSchema = z.object({ type: z.literal('reasoning_text'), text: z.string() });
export type ReasoningTextPart = z.infer<typeof ReasoningTextPartSchema>;

/**
 * A `reasoning` item as emitted: the upstream's raw reasoning as `content`, its summary (only a
 * Responses upstream gives one), and `encrypted_content` only when the upstream sent it (the key
 * is absent otherwise: Open Responses rejects null). The encrypted content is what a Responses
 * upstream needs back to continue its reasoning statelessly.
 */
export const OutputReasoningSchema = z.object({
  type: z.literal('reasoning'),
  id: z.string(),
  summary: z.array(z.object({ type: z.literal('summary_text'), text: z.string() })),
  content: z.array(ReasoningTextPartSchema),
  encrypted_content: z.string().exactOptional(),
  status: ItemStatusSchema,
});
export type OutputReasoning = z.infer<typeof OutputReasoningSchema>;

/**
 * A hosted web search the upstream ran (a Responses route that passes `web_search` through, see the
 * route's `hosted_tools`): relayed as the upstream gave it, under Spool's id.
 */
export const OutputWebSearchCallSchema = z.object({
  type: z.literal('web_search_call'),
  id: z.string(),
  status: z.enum(['in_progress', 'searching', 'completed', 'failed', 'incomplete']),
  action: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('search'),
      query: z.string().exactOptional(),
      queries: z.array(z.string()).exactOptional(),
      sources: z.array(z.object({ type: z.literal('url'), url: z.string() })).exactOptional(),
    }),
    z.object({ type: z.literal('open_page'), url: z.string().nullable().exactOptional() }),
    z.object({ type: z.literal('find_in_page'), pattern: z.string(), url: z.string() }),
  ]),
});
export type OutputWebSearchCall = z.infer<typeof OutputWebSearchCallSchema>;

/** A hosted file search the upstream ran over the request's vector stores (`hosted_tools: [file_search]`). */
export const OutputFileSearchCallSchema = z.object({
  type: z.literal('file_search_call'),
  id: z.string(),
  queries: z.array(z.string()),
  status: z.enum(['in_progress', 'searching', 'completed', 'incomplete', 'failed']),
  results: z
    .array(
      z.object({
        attributes: z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
          .nullable()
          .exactOptional(),
        file_id: z.string().exactOptional(),
        filename: z.string().exactOptional(),
        score: z.number().exactOptional(),
        text: z.string().exactOptional(),
      }),
    )
    .nullable()
    .exactOptional(),
});
export type OutputFileSearchCall = z.infer<typeof OutputFileSearchCallSchema>;

/** A hosted code interpreter run the upstream made in its container (`hosted_tools: [code_interpreter]`). */
export const OutputCodeInterpreterCallSchema = z.object({
  type: z.literal('code_interpreter_call'),
  id: z.string(),
  code: z.string().nullable(),
  container_id: z.string(),
  outputs: z.array(z.discriminatedUnion('type', [z.object({ type: z.literal('logs'), logs: z.string() }), z.object({ type: z.literal('image'), url: z.string() })])).nullable(),
  status: z.enum(['in_progress', 'completed', 'incomplete', 'interpreting', 'failed']),
});
export type OutputCodeInterpreterCall = z.infer<typeof OutputCodeInterpreterCallSchema>;

/** A hosted image generation the upstream ran (`hosted_tools: [image_generation]`); `result` is the image, base64. */
export const OutputImageGenerationCallSchema = z.object({
  type: z.literal('image_generation_call'),
  id: z.string(),
  result: z.string().nullable(),
  status: z.enum(['in_progress', 'completed', 'generating', 'failed']),
  action: z.enum(['generate', 'edit', 'auto']).nullable().exactOptional(),
  background: z.enum(['transparent', 'opaque', 'auto']).nullable().exactOptional(),
  output_format: z.enum(['png', 'webp', 'jpeg', 'gif', 'svg']).nullable().exactOptional(),
  quality: z.enum(['low', 'medium', 'high', 'xhigh', 'max', 'auto']).nullable().exactOptional(),
  revised_prompt: z.string().nullable().exactOptional(),
  size: z.string().nullable().exactOptional(),
});
export type OutputImageGenerationCall = z.infer<typeof OutputImageGenerationCallSchema>;

/** The hosted tool items Spool relays from a Responses upstream, one path keyed by item type. */
export const OutputHostedCallSchema = z.discriminatedUnion('type', [OutputWebSearchCallSchema, OutputFileSearchCallSchema, OutputCodeInterpreterCallSchema, OutputImageGenerationCallSchema]);
export type OutputHostedCall = z.infer<typeof OutputHostedCallSchema>;

export const OutputItemSchema = z.discriminatedUnion('type', [
  OutputMessageSchema,
  OutputReasoningSchema,
  OutputFunctionCallSchema,
  OutputMcpCallSchema,
  OutputMcpListToolsSchema,
  McpApprovalRequestItemSchema,
  // A Spool extension (elicitation.ts): the parity test holds every other item to the SDK's types.
  McpElicitationRequestItemSchema,
  OutputWebSearchCallSchema,
  OutputFileSearchCallSchema,
  OutputCodeInterpreterCallSchema,
  OutputImageGenerationCallSchema,
]);
export type OutputItem = z.infer<typeof OutputItemSchema>;
