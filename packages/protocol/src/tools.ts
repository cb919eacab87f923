import { z } from 'zod';

export const FunctionToolSchema = z.object({
  type: z.literal('function'),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes'),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
export type FunctionTool = z.infer<typeof FunctionToolSchema>;

/** `allowed_tools` and the approval filters share this shape. */
export const McpToolFilterSchema = z.object({
  tool_names: z.array(z.string()).exactOptional(),
  read_only: z.boolean().exactOptional(),
});
export type McpToolFilter = z.infer<typeof McpToolFilterSchema>;

export const McpRequireApprovalSchema = z.union([z.enum(['always', 'never']), z.object({ always: McpToolFilterSchema.exactOptional(), never: McpToolFilterSchema.exactOptional() })]);
export type McpRequireApproval = z.infer<typeof McpRequireApprovalSchema>;

export const McpToolSchema = z.object({
  type: z.literal('mcp'),
  server_label: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes'),
  server_url: z.string().nullish(),
  connector_id: z.string().nullish(),
  server_description: z.string().nullish(),
  headers: z.record(z.string(), z.string()).nullish(),
  authorization: z.string().nullish(),
  allowed_tools: z.union([z.array(z.string()), McpToolFilterSchema]).nullish(),
  require_approval: McpRequireApprovalSchema.nullish(),
});
export type McpTool = z.infer<typeof McpToolSchema>;

/** LiteLLM's `server_url` for "the server configured under this label". */
export const LITELLM_PROXY_URL = 'litellm_proxy';

/**
 * The URL a request names for its MCP server, or null when it names a configured server: by label,
 * with `server_url` omitted or LiteLLM's "litellm_proxy".
 */
export function requestServerUrl(tool: Pick<McpTool, 'server_url'>): string | null {
  return tool.server_url && tool.server_url !== LITELLM_PROXY_URL ? tool.server_url : null;
}

/**
 * Hosted tool types Spool can pass through to a Responses upstream and relay the items of. They
 * are accepted only on routes that list them in `hosted_tools` (refuseUnservedParams); the
 * upstream runs them, so their options are forwarded as the client gave them.
 */
export const HOSTED_TOOL_TYPES = ['web_search', 'web_search_preview', 'web_search_2025_08_26', 'file_search', 'code_interpreter', 'image_generation'] as const;
const WebSearchToolSchema = z.looseObject({ type: z.enum(['web_search', 'web_search_preview', 'web_search_2025_08_26']) });
// The upstream searches the vector stores named: without them there is nothing to pass through.
const FileSearchToolSchema = z.looseObject({ type: z.literal('file_search'), vector_store_ids: z.array(z.string()) });
// It runs in a container: one named by id, or `{type: 'auto'}` for the upstream to make one.
const CodeInterpreterToolSchema = z.looseObject({ type: z.literal('code_interpreter'), container: z.union([z.string(), z.looseObject({ type: z.literal('auto') })]) });
const ImageGenerationToolSchema = z.looseObject({ type: z.literal('image_generation') });
export const HostedToolSchema = z.discriminatedUnion('type', [WebSearchToolSchema, FileSearchToolSchema, CodeInterpreterToolSchema, ImageGenerationToolSchema]);
export type HostedTool = z.infer<typeof HostedToolSchema>;

export const ToolSchema = z.discriminatedUnion('type', [FunctionToolSchema, McpToolSchema, HostedToolSchema]);
export type Tool = z.infer<typeof ToolSchema>;
/** The tool types every route serves (Spool's own). */
export const SUPPORTED_TOOL_TYPES = ['function', 'mcp'] as const;

export const ToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), name: z.string() }),
  z.object({ type: z.literal('mcp'), server_label: z.string(), name: z.string().nullish() }),
  z.object({
    type: z.literal('allowed_tools'),
    mode: z.enum(['auto', 'required']),
    tools: z.array(z.record(z.string(), z.unknown())),
  }),
]);
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/** Function tools as echoed: Open Responses requires description, parameters and strict present. */
export function echoFunctionTool(tool: FunctionTool) {
  return {
    type: 'function' as const,
    name: tool.name,
    description: tool.description ?? null,
    parameters: tool.parameters ?? null,
    strict: tool.strict ?? true,
  };
}
