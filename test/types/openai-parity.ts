import type OpenAI from 'openai';
import type { McpElicitationRequestItem, OutputItem, Response, StreamEvent } from '@spool/protocol';

/*
 * Compile-time parity with the official SDK, the contract Spool's clients are written against:
 * every Response, output item and stream event Spool writes is assignable to the SDK's type, so a
 * client reading it gets what its types promise. `npm run typecheck` (the first step of `npm test`)
 * fails when they drift. `output_text` is left out: the SDK computes it on the client.
 */
type SdkResponse = Omit<OpenAI.Responses.Response, 'output_text' | Deviations> & SdkEchoes;
/**
 * Where the SDK's type and the Open Responses schema disagree, Spool follows the schema:
 * `usage` is required there (null until the response ends; the SDK types it optional), and so is
 * a json_schema format's `description` (null when the request had none; the SDK types it string).
 * And where the SDK's type is narrower than what the OpenAI API answers, Spool answers as the API
 * does: an MCP tool is echoed with `server_url` and `server_description` null when absent (the SDK
 * types them optional strings). Everything else of the echoed tools and tool choice is held to the
 * SDK's types.
 */
type Deviations = 'usage' | 'text' | 'tools';
type SdkMcpTool = OpenAI.Responses.Tool.Mcp;
type SdkTool = Exclude<OpenAI.Responses.Tool, SdkMcpTool> | (Omit<SdkMcpTool, 'server_url' | 'server_description'> & { server_url?: string | null; server_description?: string | null });
type SdkEchoes = { text: SdkText; tools: SdkTool[] };
type SdkJsonSchemaFormat = OpenAI.Responses.ResponseFormatTextJSONSchemaConfig;
type SdkText = Omit<OpenAI.Responses.ResponseTextConfig, 'format'> & {
  format?: Exclude<OpenAI.Responses.ResponseFormatTextConfig, SdkJsonSchemaFormat> | (Omit<SdkJsonSchemaFormat, 'description'> & { description?: string | null });
};
/** The SDK's events, with their `response` minus `output_text` as above. */
type SdkEvent = OpenAI.Responses.ResponseStreamEvent extends infer E
  ? E extends { response: infer R }
    ? Omit<E, 'response'> & { response: Omit<R, 'output_text' | Deviations> & SdkEchoes }
    : E
  : never;
type SdkOutputItem = OpenAI.Responses.ResponseOutputItem;

/**
 * Spool's one extension item (`mcp_elicitation_request`, protocol/elicitation.ts) has no SDK type by
 * design; SDK clients pass unknown items through. Everything else is held to the SDK.
 */
type StandardOutput = Exclude<OutputItem, McpElicitationRequestItem>;
type Standard<T> = T extends { item: infer I }
  ? Omit<T, 'item'> & { item: Exclude<I, McpElicitationRequestItem> }
  : T extends { response: infer R }
    ? Omit<T, 'response'> & { response: Omit<R, 'output'> & { output: StandardOutput[] } }
    : T;
type StandardResponse = Omit<Response, 'usage' | 'output'> & { output: StandardOutput[] };

export const responseToSdk = (r: StandardResponse): SdkResponse => r;
export const itemToSdk = (i: StandardOutput): SdkOutputItem => i;
export const eventToSdk = (e: Standard<StreamEvent>): SdkEvent => e;
