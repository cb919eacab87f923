/**
 * MCP tools reach the model as functions. Their names must be unique across servers and valid
 * function names (letters, digits, `_`, `-`, at most 64), so they are `<label>__<tool>`.
 *
 * The name is visible on the wire of `/v1/chat/completions` (tool lists, tool calls and pending
 * approvals are reported under it), so it lives with the wire contract, and the LLM worker
 * re-exports it.
 */
export function mcpFunctionName(serverLabel: string, toolName: string): string {
  const safe = `${serverLabel}__${toolName}`.replace(/[^a-zA-Z0-9_-]/g, '_');
  return safe.length <= 64 ? safe : safe.slice(0, 64);
}
