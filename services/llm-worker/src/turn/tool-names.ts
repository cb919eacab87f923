/** The naming lives in the protocol: `/v1/chat/completions` shows the same names to clients. */
export { mcpFunctionName } from '@spool/protocol';
