/**
 * MCP tools reach the model as functions. Their names must be unique across servers and valid
 * function names (letters, digits, `_`, `-`, at most 64), so they are `<label>__<tool>`.
 */
export function mcpFunctionName(serverLabel: string, toolName: string): string {
  const safe = `${serverLabel}__${toolName}`.replace(/[^a-zA-Z0-9_-]/g, '_');
  return safe.length <= 64 ? safe : safe.slice(0, 64);
}
