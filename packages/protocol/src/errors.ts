import { z } from 'zod';

/** The OpenAI error body: `{"error":{"message","type","param","code"}}`. */
export const ErrorBodySchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'
  | 'external_connector_error'
  /** OpenAI's 429s name the limit that was hit: `requests` or `tokens`. */
  | 'requests'
  | 'tokens';

/**
 * An error that reaches a client as an OpenAI-shaped body with an HTTP status. Everything the API
 * refuses is one of these; anything else becomes a 500 `server_error` without internals.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  static badRequest(message: string, param: string | null = null, code: string | null = 'invalid_value'): ApiError {
    return new ApiError(400, message, 'invalid_request_error', code, param);
  }

  static notFound(message: string, param: string | null = null): ApiError {
    return new ApiError(404, message, 'invalid_request_error', 'not_found', param);
  }

  static responseNotFound(id: string): ApiError {
    return ApiError.notFound(`Response with id '${id}' not found.`);
  }
}

/**
 * A connector (an MCP server) the request named could not be used: its tool list could not be
 * fetched. As the OpenAI API does, a synchronous request gets a 424 naming `tools`.
 */
export class ConnectorError extends ApiError {
  constructor(message: string) {
    super(424, message, 'external_connector_error', 'http_error', 'tools');
  }

  /** The 424 for a response that failed because an `mcp_list_tools` item failed, else null. */
  static ofResponse(response: { status: string; output: ReadonlyArray<{ type: string; error?: unknown }> }): ConnectorError | null {
    if (response.status !== 'failed') return null;
    const list = response.output.find((i) => i.type === 'mcp_list_tools' && typeof i.error === 'string' && i.error !== '');
    return list ? new ConnectorError(list.error as string) : null;
  }
}
