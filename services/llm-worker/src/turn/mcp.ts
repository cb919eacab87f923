import type { McpServerConfig } from '@spool/runtime';
import type { McpTool, McpToolFilter, McpToolInfo } from '@spool/protocol';
import type { ContextItem } from './messages.ts';
import type { ModelFunction } from './params.ts';
import { mcpFunctionName } from './tool-names.ts';
import type { McpToolRef } from './translate.ts';

function isReadOnly(tool: McpToolInfo): boolean {
  return tool.annotations?.readOnlyHint === true;
}

/** A filter matches a tool named in `tool_names`, or any read-only tool when `read_only` is true. */
export function matchesFilter(filter: McpToolFilter, tool: McpToolInfo): boolean {
  if (filter.tool_names?.includes(tool.name)) return true;
  if (filter.read_only === true && isReadOnly(tool)) return true;
  return false;
}

/** Both filters apply: the request's `allowed_tools` and the configured server's allow/deny lists. */
export function filterTools(tools: McpToolInfo[], requestAllowed: McpTool['allowed_tools'], server: McpServerConfig | undefined): McpToolInfo[] {
  return tools.filter((t) => {
    if (server?.allowed_tools && !server.allowed_tools.includes(t.name)) return false;
    if (server?.disallowed_tools.includes(t.name)) return false;
    if (requestAllowed == null) return true;
    if (Array.isArray(requestAllowed)) return requestAllowed.includes(t.name);
    return matchesFilter(requestAllowed, t);
  });
}

/**
 * Whether a call needs approval. Omitted or "always": yes, as in the OpenAI API. The object form:
 * `always` matches → yes, `never` matches → no, neither → yes. A configured server policy of
 * "always" makes every call need approval; it can never loosen the request's policy.
 */
export function needsApproval(tool: McpTool, info: McpToolInfo, server: McpServerConfig | undefined): boolean {
  if (server?.require_approval === 'always') return true;
  const policy = tool.require_approval;
  if (policy == null || policy === 'always') return true;
  if (policy === 'never') return false;
  if (policy.always && matchesFilter(policy.always, info)) return true;
  if (policy.never && matchesFilter(policy.never, info)) return false;
  return true;
}

/** A listing as the model-facing code reads it: absent description and annotations are null. */
export function toolInfos(tools: McpToolInfo[]): McpToolInfo[] {
  return tools.map((t) => ({ name: t.name, input_schema: t.input_schema, description: t.description ?? null, annotations: t.annotations ?? null }));
}

/** The latest tool list per server label in the context; lists that failed do not count. */
export function listsInContext(items: ContextItem[]): Map<string, McpToolInfo[]> {
  const lists = new Map<string, McpToolInfo[]>();
  for (const item of items) {
    if (item.type === 'mcp_list_tools' && !item.error) {
      lists.set(item.server_label, toolInfos(item.tools));
    }
  }
  return lists;
}

export interface McpFunctionEntry extends McpToolRef {
  tool: McpTool;
  info: McpToolInfo;
}

/** The MCP tools offered to the model, as functions with unique names, and the way back. */
export function mcpFunctions(
  tools: McpTool[],
  lists: Map<string, McpToolInfo[]>,
  servers: Record<string, McpServerConfig>,
): { functions: ModelFunction[]; refs: Map<string, McpFunctionEntry> } {
  const functions: ModelFunction[] = [];
  const refs = new Map<string, McpFunctionEntry>();
  for (const tool of tools) {
    const server = servers[tool.server_label];
    for (const info of filterTools(lists.get(tool.server_label) ?? [], tool.allowed_tools, server)) {
      const name = mcpFunctionName(tool.server_label, info.name);
      if (refs.has(name)) continue;
      refs.set(name, { serverLabel: tool.server_label, toolName: info.name, tool, info });
      const description = [tool.server_description, info.description].filter(Boolean).join(' — ');
      functions.push({ name, description: description || null, parameters: info.input_schema, strict: null });
    }
  }
  return { functions, refs };
}

/** Configured servers are referred to by label, with `server_url` omitted or LiteLLM's "litellm_proxy". */
export function serverUrlOf(tool: McpTool): string | null {
  return tool.server_url && tool.server_url !== 'litellm_proxy' ? tool.server_url : null;
}
