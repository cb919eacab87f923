import { approvalRequired, factsOf, toolAllowed } from '@spool/contracts';
import type { McpServerConfig } from '@spool/runtime';
import { requestServerUrl, type McpTool, type McpToolInfo } from '@spool/protocol';
import type { ContextItem } from './messages.ts';
import type { ModelFunction } from './params.ts';
import { mcpFunctionName } from './tool-names.ts';
import type { McpToolRef } from './translate.ts';

/** Both filters apply: the request's `allowed_tools` and the configured server's allow/deny lists (the shared policy). */
export function filterTools(tools: McpToolInfo[], requestAllowed: McpTool['allowed_tools'], server: McpServerConfig | undefined): McpToolInfo[] {
  return tools.filter((t) => toolAllowed(factsOf(t), { allowed_tools: requestAllowed }, server));
}

/** Whether a call needs approval, by the shared policy (contracts/mcp-policy `approvalRequired`). */
export function needsApproval(tool: McpTool, info: McpToolInfo, server: McpServerConfig | undefined): boolean {
  return approvalRequired(factsOf(info), tool, server);
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
export function mcpFunctions(tools: McpTool[], lists: Map<string, McpToolInfo[]>, servers: Record<string, McpServerConfig>): { functions: ModelFunction[]; refs: Map<string, McpFunctionEntry> } {
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
export const serverUrlOf = (tool: McpTool): string | null => requestServerUrl(tool);
