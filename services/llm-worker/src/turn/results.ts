import type { McpJobResult } from '@spool/contracts';
import type { McpTool } from '@spool/protocol';
import type { Turn } from './context.ts';
import { filterTools } from './mcp.ts';
import { closeCall, closeList } from './mcp-items.ts';

/** The MCP tools of the request (Spool's: listed and run on the executor). */
export function mcpToolsOf(turn: Turn): McpTool[] {
  return (turn.request.tools ?? []).filter((t): t is McpTool => t.type === 'mcp');
}

/**
 * Step 1: the results of the MCP jobs this turn waited for close their items. A child with no
 * result (it crashed for good, or an unsafe call was interrupted) fails loudly rather than vanish.
 * Returns the listing failures, which fail the response.
 */
export function takeChildResults(turn: Turn, childResults: McpJobResult[]): string[] {
  const { deps, job, writer } = turn;
  const mcpTools = mcpToolsOf(turn);
  const byItem = new Map(childResults.flatMap((r) => (r.kind === 'call' ? [[r.itemId, r] as const] : [])));
  const byLabel = new Map(childResults.flatMap((r) => (r.kind === 'list' ? [[r.serverLabel, r] as const] : [])));
  const listFailures: string[] = [];
  for (const pending of job.awaiting?.lists ?? []) {
    const result = byLabel.get(pending.serverLabel);
    const tool = mcpTools.find((t) => t.server_label === pending.serverLabel);
    const error = result ? result.error : `Error retrieving tool list from MCP server: '${pending.serverLabel}'. The listing was interrupted.`;
    const tools = result && !error ? filterTools(result.tools, tool?.allowed_tools, deps.mcpServers[pending.serverLabel]) : [];
    closeList(writer, pending.outputIndex, tools, error);
    if (error) listFailures.push(error);
  }
  for (const pending of job.awaiting?.calls ?? []) {
    const result = byItem.get(pending.itemId);
    if (result?.elicitation) continue; // waiting for the user: elicitation.ts closes it
    closeCall(writer, pending.outputIndex, result ?? { output: null, error: { type: 'mcp_protocol_error', code: -32001, message: 'The tool call was interrupted before it returned a result.' } });
  }
  return listFailures;
}
