import type { McpSecrets } from '@spool/contracts';
import { ApiError, requestServerUrl, type CreateResponseRequest } from '@spool/protocol';

/**
 * Checks a request's MCP tool definitions and takes their credentials out: what is stored has no
 * headers and no authorization; the credentials go to the job, sealed (contracts `McpSecrets`).
 */
export function splitMcpTools(tools: CreateResponseRequest['tools'], configured: ReadonlySet<string>): { tools: CreateResponseRequest['tools']; secrets: McpSecrets | null } {
  if (!tools) return { tools, secrets: null };
  const secrets: McpSecrets = {};
  const labels = new Set<string>();
  const stripped = tools.map((tool, i) => {
    if (tool.type !== 'mcp') return tool;
    if (labels.has(tool.server_label)) throw ApiError.badRequest(`Duplicate MCP server_label '${tool.server_label}'.`, `tools[${i}].server_label`);
    labels.add(tool.server_label);
    if (tool.connector_id) throw ApiError.badRequest('MCP connectors (connector_id) are not supported by this server; give a server_url.', `tools[${i}].connector_id`, 'unsupported_parameter');
    const url = requestServerUrl(tool);
    if (url === null) {
      if (!configured.has(tool.server_label)) {
        throw ApiError.badRequest(
          `MCP server '${tool.server_label}' is not configured on this server: give a server_url, or configure it under mcp_servers.`,
          `tools[${i}].server_url`,
          'mcp_server_not_found',
        );
      }
    } else {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw ApiError.badRequest(`Invalid MCP server_url '${url}'.`, `tools[${i}].server_url`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw ApiError.badRequest('MCP server_url must be an http or https URL (stdio servers exist only in the configuration).', `tools[${i}].server_url`);
      }
    }
    if (tool.headers || tool.authorization) {
      secrets[tool.server_label] = { ...(tool.headers ? { headers: tool.headers } : {}), ...(tool.authorization ? { authorization: tool.authorization } : {}) };
    }
    const { headers: _h, authorization: _a, ...rest } = tool;
    return rest;
  });
  return { tools: stripped, secrets: Object.keys(secrets).length > 0 ? secrets : null };
}
