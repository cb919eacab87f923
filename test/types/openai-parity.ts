import type OpenAI from 'openai';
import type { McpElicitationRequestItem, OutputItem, Response, StreamEvent } from '@spool/protocol';

/*
 * Compile-time parity with the official SDK, the contract Spool's clients are written against:
 * every Response, output item and stream event Spool writes is assignable to the SDK's type, so a
 * client reading it gets what its types promise. `npm run typecheck` (the first step of `npm test`)
 * fails when they drift. `output_text` is left out: the SDK computes it on the client.
 */
type SdkResponse = Omit<OpenAI.Responses.Response, 'output_text' | EchoedRequestFields>;
/**
 * Not yet held to the SDK's types: the request's tools, tool choice and text format as echoed
 * (typed loosely in protocol's ResponseSchema; the Open Responses schema test checks their shape).
 */
type EchoedRequestFields = 'tools' | 'tool_choice' | 'text' | NullUntilDone;
/** The SDK types `usage` optional; the Open Responses schema requires it, null until the response ends. */
type NullUntilDone = 'usage';
/** The SDK's events, with their `response` minus `output_text` as above. */
type SdkEvent = OpenAI.Responses.ResponseStreamEvent extends infer E
  ? E extends { response: infer R } ? Omit<E, 'response'> & { response: Omit<R, 'output_text' | EchoedRequestFields> } : E
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
type StandardResponse = Omit<Response, EchoedRequestFields | 'output'> & { output: StandardOutput[] };

export const responseToSdk = (r: StandardResponse): SdkResponse => r;
export const itemToSdk = (i: StandardOutput): SdkOutputItem => i;
export const eventToSdk = (e: Standard<StreamEvent>): SdkEvent => e;
