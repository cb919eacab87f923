import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMcpServer, type TestMcpServer } from '@spool/testkit';
import { McpServerError } from './mcp/index.ts';
import { OAuthTokens, type OAuthClientConfig } from './oauth.ts';

/** Against the test server's real token endpoint (client credentials, client_secret_basic). */
let server: TestMcpServer;
let cfg: OAuthClientConfig;

beforeAll(async () => {
  server = await startTestMcpServer({ oauth: { clientId: 'spool', clientSecret: 'cs-very-secret', scope: 'tools' } });
  cfg = { token_url: server.tokenUrl, client_id: 'spool', client_secret_env: 'T_SECRET', scope: 'tools' };
});
afterAll(async () => {
  await server.close();
});

describe('OAuthTokens (client credentials)', () => {
  it('fetches a token once, shares it between concurrent callers, and renews it before it expires', async () => {
    let now = 1_000_000;
    const tokens = new OAuthTokens({ secrets: { s: 'cs-very-secret' }, now: () => now });
    const before = server.tokensIssued.length;
    const [a, b] = await Promise.all([tokens.token('s', cfg), tokens.token('s', cfg)]);
    expect(a).toBe(b);
    expect(server.tokensIssued.slice(before)).toEqual([a]);
    const request = server.requests.filter((r) => r.path === '/token').at(-1);
    expect(request?.headers.authorization).toBe(`Basic ${Buffer.from('spool:cs-very-secret').toString('base64')}`);

    now += 3_500_000; // within the hour, more than a minute before expiry
    expect(await tokens.token('s', cfg)).toBe(a);
    now += 60_000; // within the last minute of its hour
    const renewed = await tokens.token('s', cfg);
    expect(renewed).not.toBe(a);
    expect(server.tokensIssued.slice(before)).toEqual([a, renewed]);
  });

  it('fetches a new token once the old one was refused (invalidate)', async () => {
    const tokens = new OAuthTokens({ secrets: { s: 'cs-very-secret' } });
    const first = await tokens.token('s', cfg);
    tokens.invalidate('s', 'some-other-token');
    expect(await tokens.token('s', cfg)).toBe(first);
    tokens.invalidate('s', first);
    expect(await tokens.token('s', cfg)).not.toBe(first);
  });

  it('a refused client is an mcp_unauthorized error naming the token URL, never the secret', async () => {
    const tokens = new OAuthTokens({ secrets: { s: 'wrong-secret-value' } });
    const err = await tokens.token('s', cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpServerError);
    expect(err).toMatchObject({ code: 'mcp_unauthorized' });
    expect((err as Error).message).toContain(`Could not get an OAuth access token for MCP server 's' from ${server.tokenUrl}`);
    expect((err as Error).message).not.toContain('wrong-secret-value');
    const missing = await new OAuthTokens({ secrets: {} }).token('s', cfg).catch((e: unknown) => e);
    expect((missing as Error).message).toContain('the client secret (T_SECRET) is not set');
  });
});
