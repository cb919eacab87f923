import type { McpTool, McpToolFilter } from '@spool/protocol';

/*
 * The one rule for which MCP tool calls may happen. It is read where tools are offered to the model
 * (llm-worker), where an approval is accepted (api) and right before a call runs (mcp-executor): a
 * policy that is only checked where a tool is offered lets a forged approval run a denied tool.
 */

/** The request's side of the policy: the `mcp` tool entry's `allowed_tools` and `require_approval`. */
export type RequestToolPolicy = Pick<McpTool, 'allowed_tools' | 'require_approval'>;

/** The operator's side: a configured server's lists and approval policy (runtime `McpServerConfig`). */
export interface ServerToolPolicy {
  allowed_tools?: string[] | undefined;
  disallowed_tools: string[];
  require_approval: 'always' | 'never' | 'request';
}

/** What the policy needs to know about one tool: its name and whether it says it is read-only. */
export interface ToolFacts {
  name: string;
  /** The tool's `annotations.readOnlyHint` as Spool saw it when it listed the tool. */
  readOnly: boolean;
}

/** Facts from a listed tool (`mcp_list_tools` entry or an MCP `tools/list` answer). */
export function factsOf(info: { name: string; annotations?: Record<string, unknown> | null | undefined }): ToolFacts {
  return { name: info.name, readOnly: info.annotations?.readOnlyHint === true };
}

/** A filter matches a tool named in `tool_names`, or any read-only tool when `read_only` is true. */
export function matchesFilter(filter: McpToolFilter, tool: ToolFacts): boolean {
  if (filter.tool_names?.includes(tool.name)) return true;
  if (filter.read_only === true && tool.readOnly) return true;
  return false;
}

/** Why a tool may not be used at all, or null when both lists let it through. */
export function whyNotAllowed(tool: ToolFacts, request: RequestToolPolicy, server: ServerToolPolicy | undefined): string | null {
  if (server?.allowed_tools && !server.allowed_tools.includes(tool.name)) return 'it is not in the allowed_tools of the server configuration';
  if (server?.disallowed_tools.includes(tool.name)) return 'it is in the disallowed_tools of the server configuration';
  const allowed = request.allowed_tools;
  if (allowed == null) return null;
  if (Array.isArray(allowed) ? allowed.includes(tool.name) : matchesFilter(allowed, tool)) return null;
  return "it is not in the request's allowed_tools";
}

/** Both lists apply: the request's `allowed_tools` and the configured server's allow/deny lists. */
export function toolAllowed(tool: ToolFacts, request: RequestToolPolicy, server: ServerToolPolicy | undefined): boolean {
  return whyNotAllowed(tool, request, server) === null;
}

/**
 * Whether a call needs approval. Omitted or "always": yes, as in the OpenAI API. The object form:
 * `always` matches → yes, `never` matches → no, neither → yes. A configured server policy of
 * "always" makes every call need approval; it can never loosen the request's policy.
 */
export function approvalRequired(tool: ToolFacts, request: RequestToolPolicy, server: ServerToolPolicy | undefined): boolean {
  if (server?.require_approval === 'always') return true;
  const policy = request.require_approval;
  if (policy == null || policy === 'always') return true;
  if (policy === 'never') return false;
  if (policy.always && matchesFilter(policy.always, tool)) return true;
  if (policy.never && matchesFilter(policy.never, tool)) return false;
  return true;
}

export type CallVerdict = { ok: true } | { ok: false; code: 'mcp_tool_not_allowed' | 'mcp_approval_required'; message: string };

/**
 * May this call run now? `request` is the request's `mcp` tool entry for the call's server label
 * (undefined: the request does not name that server, so nothing of it may run); `approved` says an
 * `mcp_approval_response` approved this very call.
 */
export function checkCall(call: { serverLabel: string; tool: ToolFacts; approved: boolean }, request: RequestToolPolicy | undefined, server: ServerToolPolicy | undefined): CallVerdict {
  const what = `Tool '${call.tool.name}' of MCP server '${call.serverLabel}'`;
  if (!request) return { ok: false, code: 'mcp_tool_not_allowed', message: `${what} may not run: the server is not in the request's tools.` };
  const why = whyNotAllowed(call.tool, request, server);
  if (why) return { ok: false, code: 'mcp_tool_not_allowed', message: `${what} may not run: ${why}.` };
  if (!call.approved && approvalRequired(call.tool, request, server)) {
    return { ok: false, code: 'mcp_approval_required', message: `${what} may not run without an approval.` };
  }
  return { ok: true };
}
