/**
 * The HTTP headers to send to one MCP server, from an OpenAI `{type: "mcp"}` tool's `headers` and
 * `authorization`, following LiteLLM's convention so that clients written for LiteLLM work unchanged:
 *
 * - `x-mcp-<label>-<header>` is sent to the server labelled `<label>` as `<header>`, in canonical
 *   capitalisation (`x-mcp-github-authorization` → `Authorization`). Prefix and label match
 *   case-insensitively. A targeted header wins over a plain header of the same name, whatever the order.
 * - `x-mcp-<other label>-...` is meant for another server and is dropped.
 * - `x-litellm-api-key` authenticates to LiteLLM itself: accepted, never forwarded.
 * - Any other header passes as it is.
 * - `authorization` (an OAuth access token) becomes `Authorization: Bearer <token>` unless an
 *   Authorization header is already set.
 *
 * A label that itself contains `-` is matched as a whole (`x-mcp-my-server-x-key` is `X-Key` for
 * label `my-server`); with labels `my` and `my-server` in one request that header would also look
 * like `Server-X-Key` for `my`, an ambiguity the convention cannot resolve.
 */
export function mcpHeadersFor(label: string, toolHeaders: Record<string, string> | null | undefined, authorization?: string | null): Record<string, string> {
  const targetedPrefix = `${MCP_PREFIX}${label.toLowerCase()}-`;
  // Keyed by lower-case name, so that `authorization` and `Authorization` can never both be sent.
  const plain = new Map<string, [string, string]>();
  const targeted = new Map<string, [string, string]>();

  for (const [name, value] of Object.entries(toolHeaders ?? {})) {
    const lower = name.toLowerCase();
    if (lower === LITELLM_KEY_HEADER) continue;
    if (lower.startsWith(targetedPrefix)) {
      const header = name.slice(targetedPrefix.length);
      if (header !== '') targeted.set(header.toLowerCase(), [canonicalHeaderName(header), value]);
      continue;
    }
    if (lower.startsWith(MCP_PREFIX)) continue;
    plain.set(lower, [name, value]);
  }

  const merged = new Map([...plain, ...targeted]);
  const token = authorization?.trim();
  if (token && !merged.has('authorization')) {
    // Tolerate a token that already carries its scheme rather than sending `Bearer Bearer ...`.
    merged.set('authorization', ['Authorization', /^bearer\s/i.test(token) ? token : `Bearer ${token}`]);
  }
  return Object.fromEntries(merged.values());
}

/** `x-api-key` → `X-Api-Key`: the capitalisation most servers' docs (and logs) use. */
export function canonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-');
}

const MCP_PREFIX = 'x-mcp-';
const LITELLM_KEY_HEADER = 'x-litellm-api-key';
