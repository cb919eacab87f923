import { STATUS_CODES } from 'node:http';

export type McpServerErrorCode = 'mcp_list_failed' | 'mcp_unauthorized' | 'mcp_unreachable' | 'mcp_timeout';

/**
 * A tool list could not be retrieved. Thrown, never turned into an empty list: an empty list would
 * hide a 401 from the user (a failure seen in earlier MCP gateways). The message follows OpenAI's
 * wording so that it can be shown as is (`Error retrieving tool list from MCP server: 'x'. ...`);
 * it never contains the server's response body or any header value.
 */
export class McpServerError extends Error {
  override readonly name = 'McpServerError';
  readonly code: McpServerErrorCode;
  readonly httpStatus?: number;

  constructor(code: McpServerErrorCode, message: string, options?: { httpStatus?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }

  /** The shape a failure takes when it crosses a queue. */
  toJSON(): { code: McpServerErrorCode; message: string; httpStatus?: number } {
    return this.httpStatus === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, httpStatus: this.httpStatus };
  }
}

/** A request's `server_url` points somewhere Spool must not connect to (see `assertUrlAllowed`). */
export class McpUrlNotAllowedError extends Error {
  override readonly name = 'McpUrlNotAllowedError';
  readonly code = 'mcp_server_url_not_allowed' as const;

  toJSON(): { code: 'mcp_server_url_not_allowed'; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** `401 (Unauthorized)`: the form OpenAI uses in its tool-list error message. */
export function describeStatus(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? `${status}` : `${status} (${reason})`;
}
