import { z } from 'zod';

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
export const OutputTextPartSchema = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()).default([]),
  logprobs: z.array(z.unknown()).optional(),
});
export const RefusalPartSchema = z.object({ type: z.literal('refusal'), refusal: z.string() });

export const InputContentPartSchema = z.discriminatedUnion('type', [
  InputTextPartSchema,
  InputImagePartSchema,
  InputFilePartSchema,
  OutputTextPartSchema,
  RefusalPartSchema,
]);
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
  encrypted_content: z.string().min(1).max(10 * 1024 * 1024),
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

/* Output items as we emit them: every field present. */

export interface OutputMessage {
  type: 'message';
  id: string;
  role: 'assistant';
  status: 'in_progress' | 'completed' | 'incomplete';
  content: Array<OutputTextPart | RefusalPart>;
}
export type OutputTextPart = { type: 'output_text'; text: string; annotations: unknown[]; logprobs: unknown[] };
export type RefusalPart = z.infer<typeof RefusalPartSchema>;

export interface OutputFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export interface OutputMcpCall {
  type: 'mcp_call';
  id: string;
  server_label: string;
  name: string;
  arguments: string;
  output: string | null;
  error: McpCallError | null;
  status: 'in_progress' | 'completed' | 'incomplete' | 'calling' | 'failed';
  approval_request_id: string | null;
}

export interface OutputMcpListTools {
  type: 'mcp_list_tools';
  id: string;
  server_label: string;
  tools: McpToolInfo[];
  error: string | null;
}

export type OutputItem =
  | OutputMessage
  | OutputFunctionCall
  | OutputMcpCall
  | OutputMcpListTools
  | McpApprovalRequestItem;
