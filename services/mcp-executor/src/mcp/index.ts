/** The MCP client layer of the executor: targets, the session pool, header mapping and the URL guard. */
export { poolKey, type McpTarget } from './target.ts';
export {
  McpClientPool,
  type McpCallError,
  type McpCallOutcome,
  type McpClientPoolOptions,
  type McpProgress,
  type McpToolInfo,
} from './pool.ts';
export { McpServerError, McpUrlNotAllowedError, type McpServerErrorCode } from './errors.ts';
export { mcpHeadersFor, canonicalHeaderName } from './headers.ts';
export {
  assertUrlAllowed,
  guardedLookup,
  classifyAddress,
  isPrivateAddress,
  parseAllowList,
  type AddressKind,
  type AllowList,
  type AssertUrlOptions,
  type LookupFunction,
} from './ssrf.ts';
