import { createHash } from 'node:crypto';

/**
 * One MCP server to talk to, with everything needed to reach it. HTTP targets come from a request's
 * `{type: "mcp", server_url, headers, authorization}` tool (headers already resolved with
 * `mcpHeadersFor`); stdio targets exist only in the server configuration.
 *
 * `timeoutMs` bounds one MCP request; a tool that reports progress restarts the clock on every
 * notification, so a long tool lives as long as it keeps talking.
 */
export type McpTarget =
  | {
      kind: 'http';
      label: string;
      url: string;
      transport: 'auto' | 'streamable-http' | 'sse';
      headers: Record<string, string>;
      timeoutMs: number;
      /** A request's `server_url`: connect only through the SSRF-checked lookup. */
      guarded?: boolean;
    }
  | {
      kind: 'stdio';
      label: string;
      command: string;
      args: string[];
      env: Record<string, string>;
      cwd?: string;
      timeoutMs: number;
    };

/**
 * The pool key of a target: one MCP session per server *and* credentials, so two callers with
 * different headers never share a session (a session may carry per-user state on the server).
 *
 * Only the URL's origin stays readable; the full URL (some servers put a token in the path or query),
 * the headers and a stdio server's env are hashed, so the key can be logged without leaking secrets.
 * Header names are compared case-insensitively, as HTTP does. The label is not part of the key: two
 * tool entries naming the same server with the same credentials may share one session.
 */
export function poolKey(t: McpTarget): string {
  if (t.kind === 'http') {
    const headers = Object.entries(t.headers)
      .map(([name, value]) => [name.toLowerCase(), value] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const digest = sha256(JSON.stringify([t.transport, t.url, headers]));
    return `http|${originOf(t.url)}|${digest}`;
  }
  const env = Object.entries(t.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const digest = sha256(JSON.stringify([t.command, t.args, env, t.cwd ?? null]));
  return `stdio|${digest}`;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    // An unparsable URL fails at connect time with a clear error; the key only has to be stable.
    return 'invalid-url';
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
