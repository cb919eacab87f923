import { newId, type McpToolInfo, type OutputMcpCall, type OutputMcpListTools } from '@spool/protocol';
import type { ResponseWriter } from '@spool/redis';

/*
 * The events of the MCP items Spool itself opens and closes (the model opens calls; Spool lists
 * tools, runs approved calls and closes every call with its result).
 */

/** Opens an `mcp_list_tools` item: `output_item.added`, then `mcp_list_tools.in_progress`. */
export function openList(writer: ResponseWriter, serverLabel: string): { itemId: string; outputIndex: number } {
  const outputIndex = writer.snapshot.output.length;
  const item: OutputMcpListTools = { type: 'mcp_list_tools', id: newId('mcpl'), server_label: serverLabel, tools: [], error: null };
  writer.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
  writer.emit({ type: 'response.mcp_list_tools.in_progress', item_id: item.id, output_index: outputIndex });
  return { itemId: item.id, outputIndex };
}

/** Closes an `mcp_list_tools` item with the listing: `mcp_list_tools.completed|failed`, then `output_item.done`. */
export function closeList(writer: ResponseWriter, outputIndex: number, tools: McpToolInfo[], error: string | null): void {
  const item = writer.snapshot.output[outputIndex];
  if (item?.type !== 'mcp_list_tools') return;
  writer.emit({ type: error ? 'response.mcp_list_tools.failed' : 'response.mcp_list_tools.completed', item_id: item.id, output_index: outputIndex });
  const listed = tools.map((t) => ({ name: t.name, input_schema: t.input_schema, description: t.description ?? null, annotations: t.annotations ?? null }));
  writer.emit({ type: 'response.output_item.done', output_index: outputIndex, item: { ...item, tools: listed, error } });
}

/** Opens the `mcp_call` item of an approved call, exactly as parked: added, arguments done, in progress. */
export function openApprovedCall(writer: ResponseWriter, call: Pick<OutputMcpCall, 'server_label' | 'name' | 'arguments' | 'approval_request_id'>): { item: OutputMcpCall; outputIndex: number } {
  const outputIndex = writer.snapshot.output.length;
  const item: OutputMcpCall = { type: 'mcp_call', id: newId('mcp'), ...call, output: null, error: null, status: 'in_progress' };
  writer.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
  writer.emit({ type: 'response.mcp_call_arguments.done', item_id: item.id, output_index: outputIndex, arguments: item.arguments });
  writer.emit({ type: 'response.mcp_call.in_progress', item_id: item.id, output_index: outputIndex });
  return { item, outputIndex };
}

/** Closes an MCP call item with its result: `mcp_call.completed|failed`, then `output_item.done`. */
export function closeCall(writer: ResponseWriter, outputIndex: number, result: Pick<OutputMcpCall, 'output' | 'error'>): void {
  const item = writer.snapshot.output[outputIndex];
  if (item?.type !== 'mcp_call') return;
  const failed = result.error !== null;
  writer.emit({ type: failed ? 'response.mcp_call.failed' : 'response.mcp_call.completed', item_id: item.id, output_index: outputIndex });
  writer.emit({
    type: 'response.output_item.done',
    output_index: outputIndex,
    item: { ...item, status: failed ? 'failed' : 'completed', output: result.output, error: result.error },
  });
}
