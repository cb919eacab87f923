/** The MCP client layer of the executor: targets, the session pool, header mapping and the URL guard. */
export type { McpTarget } from './target.ts';
export { McpClientPool, type ElicitHook, type ElicitationQuestion, type ElicitationReply, type McpCallOutcome } from './pool.ts';
export { McpServerError, McpUrlNotAllowedError } from './errors.ts';
export { mcpHeadersFor } from './headers.ts';
export { assertUrlAllowed, guardedLookup, parseAllowList, type AllowList } from './ssrf.ts';
