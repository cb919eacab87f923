import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { fetchToken } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { McpServerConfig } from '@spool/runtime';
import { McpServerError } from './mcp/index.ts';

export type OAuthClientConfig = NonNullable<McpServerConfig['oauth']>;

/** A token is renewed this long before the authorization server said it expires (clock skew, a slow call). */
const RENEW_BEFORE_MS = 60_000;

/**
 * Access tokens for configured MCP servers with `oauth` (client credentials), one per server label,
 * fetched with the MCP SDK's token helpers (`fetchToken` + `ClientCredentialsProvider`, so client
 * authentication, the form and the response schema are the SDK's) and kept in this process until
 * shortly before they expire, or until the server refuses one (`invalidate`). Concurrent jobs share
 * one token request. Tokens never leave the process except as the Authorization header.
 */
export class OAuthTokens {
  readonly #cache = new Map<string, { token: string; renewAt: number }>();
  readonly #inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly opts: {
      /** Client secrets by label (config.mcpOAuthSecrets). */
      secrets: Record<string, string>;
      now?: () => number;
      fetchFn?: typeof fetch;
    },
  ) {}

  async token(label: string, cfg: OAuthClientConfig): Promise<string> {
    const now = (this.opts.now ?? Date.now)();
    const cached = this.#cache.get(label);
    if (cached && now < cached.renewAt) return cached.token;
    let pending = this.#inflight.get(label);
    if (!pending) {
      pending = this.#fetch(label, cfg, now).finally(() => this.#inflight.delete(label));
      this.#inflight.set(label, pending);
    }
    return pending;
  }

  /** The server answered 401 to `token` (revoked, or expired early): the next call fetches a new one. */
  invalidate(label: string, token?: string): void {
    const cached = this.#cache.get(label);
    if (cached && (token === undefined || cached.token === token)) this.#cache.delete(label);
  }

  async #fetch(label: string, cfg: OAuthClientConfig, now: number): Promise<string> {
    const secret = this.opts.secrets[label];
    const fail = (why: string, cause?: unknown) => new McpServerError('mcp_unauthorized', `Could not get an OAuth access token for MCP server '${label}' from ${cfg.token_url}: ${why}`, { cause });
    if (secret === undefined) throw fail(`the client secret (${cfg.client_secret_env}) is not set.`);
    const issuer = new URL(cfg.token_url).origin;
    const provider = new ClientCredentialsProvider({ clientId: cfg.client_id, clientSecret: secret, expectedIssuer: issuer, ...(cfg.scope ? { scope: cfg.scope } : {}) });
    // The token endpoint is configured, not discovered: these are the only metadata fields the
    // token request reads (the endpoint, and client_secret_basic as the default client authentication).
    const metadata = { issuer, token_endpoint: cfg.token_url, authorization_endpoint: cfg.token_url, response_types_supported: [] } satisfies AuthorizationServerMetadata;
    let tokens;
    try {
      tokens = await fetchToken(provider, issuer, { metadata, ...(this.opts.fetchFn ? { fetchFn: this.opts.fetchFn } : {}) });
    } catch (err) {
      // The SDK's OAuth errors carry the server's error code and description, never our secret.
      const why = err instanceof Error ? err.message.slice(0, 300) : 'the token request failed.';
      throw fail(why, err);
    }
    const lifetimeMs = (tokens.expires_in ?? Infinity) * 1000;
    this.#cache.set(label, { token: tokens.access_token, renewAt: now + Math.max(0, lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 10)) });
    return tokens.access_token;
  }
}
