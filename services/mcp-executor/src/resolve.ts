import type { McpServerConfig } from '@spool/runtime';
import type { OAuthTokens } from './oauth.ts';
import { assertUrlAllowed, mcpHeadersFor, McpUrlNotAllowedError, type AllowList, type McpTarget } from './mcp/index.ts';

export type { McpCredentials as Credentials } from '@spool/contracts';
import type { McpCredentials as Credentials } from '@spool/contracts';

/** Default per-call timeout for servers named by URL: well above the 60 s that cut long tools short elsewhere. */
const DEFAULT_MCP_TIMEOUT_MS = 300_000;

/**
 * Where an MCP job goes. A configured server (no URL in the request, or "litellm_proxy") uses its
 * configured transport and static headers, with the request's headers added on top (LiteLLM's
 * `x-mcp-<label>-<header>` convention included). A request URL is checked against the SSRF guard
 * before any connection.
 */
export async function resolveTarget(
  label: string,
  serverUrl: string | null,
  cred: Credentials | undefined,
  servers: Record<string, McpServerConfig>,
  allow: AllowList,
  /** Access tokens of configured servers with `oauth` (client credentials). */
  tokens?: OAuthTokens,
): Promise<McpTarget> {
  const requestHeaders = mcpHeadersFor(label, cred?.headers, cred?.authorization);
  if (serverUrl === null) {
    const cfg = servers[label];
    if (!cfg) throw new McpUrlNotAllowedError(`MCP server '${label}' is not configured.`);
    if (cfg.command) {
      return { kind: 'stdio', label, command: cfg.command, args: cfg.args, env: cfg.env, timeoutMs: cfg.timeout_ms };
    }
    // The configured OAuth client's token is the default; a request's own `authorization` (a user
    // acting as themselves) goes on top, like any request header over the configured ones.
    const oauthHeader = cfg.oauth && tokens ? { Authorization: `Bearer ${await tokens.token(label, cfg.oauth)}` } : {};
    return {
      kind: 'http',
      label,
      url: cfg.url as string,
      transport: cfg.transport === 'stdio' ? 'auto' : cfg.transport,
      headers: { ...cfg.headers, ...oauthHeader, ...requestHeaders },
      timeoutMs: cfg.timeout_ms,
    };
  }
  await assertUrlAllowed(serverUrl, allow);
  return { kind: 'http', label, url: serverUrl, transport: 'auto', headers: requestHeaders, timeoutMs: DEFAULT_MCP_TIMEOUT_MS, guarded: true };
}
