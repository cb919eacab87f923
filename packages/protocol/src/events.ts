import { z } from 'zod';
import { TokenLogprobSchema, type OutputItem, type OutputTextPart, type ReasoningTextPart, type RefusalPart } from './items.ts';
import type { Response } from './response.ts';

/*
 * Stream events, named exactly as OpenAI names them. A draft has no `sequence_number`: numbers are
 * assigned where the event is appended to the log (atomically, in Redis), so any process may emit.
 */

const itemScoped = { item_id: z.string(), output_index: z.number().int() };
const partScoped = { ...itemScoped, content_index: z.number().int() };
const anyObject = z.record(z.string(), z.unknown());

/**
 * The events of hosted tool items relayed from a Responses upstream (the route's hosted_tools): each
 * names its item by id and output index, which is all Spool rewrites when it relays one.
 */
const HOSTED_ITEM_EVENTS = [
  z.object({ type: z.literal('response.web_search_call.in_progress'), ...itemScoped }),
  z.object({ type: z.literal('response.web_search_call.searching'), ...itemScoped }),
  z.object({ type: z.literal('response.web_search_call.completed'), ...itemScoped }),
  z.object({ type: z.literal('response.file_search_call.in_progress'), ...itemScoped }),
  z.object({ type: z.literal('response.file_search_call.searching'), ...itemScoped }),
  z.object({ type: z.literal('response.file_search_call.completed'), ...itemScoped }),
  z.object({ type: z.literal('response.code_interpreter_call.in_progress'), ...itemScoped }),
  z.object({ type: z.literal('response.code_interpreter_call.interpreting'), ...itemScoped }),
  z.object({ type: z.literal('response.code_interpreter_call.completed'), ...itemScoped }),
  z.object({ type: z.literal('response.code_interpreter_call_code.delta'), ...itemScoped, delta: z.string() }),
  z.object({ type: z.literal('response.code_interpreter_call_code.done'), ...itemScoped, code: z.string() }),
  z.object({ type: z.literal('response.image_generation_call.in_progress'), ...itemScoped }),
  z.object({ type: z.literal('response.image_generation_call.generating'), ...itemScoped }),
  z.object({ type: z.literal('response.image_generation_call.completed'), ...itemScoped }),
  z.object({
    type: z.literal('response.image_generation_call.partial_image'),
    ...itemScoped,
    partial_image_b64: z.string(),
    partial_image_index: z.number().int(),
    background: z.string().exactOptional(),
    output_format: z.string().exactOptional(),
    quality: z.string().exactOptional(),
    size: z.string().exactOptional(),
  }),
] as const;
export const HostedItemEventSchema = z.discriminatedUnion('type', HOSTED_ITEM_EVENTS);
export type HostedItemEvent = z.infer<typeof HostedItemEventSchema>;

const lifecycle = <T extends string>(type: T) => z.object({ type: z.literal(type), response: anyObject });

export const EventDraftSchema = z.discriminatedUnion('type', [
  lifecycle('response.created'),
  lifecycle('response.queued'),
  lifecycle('response.in_progress'),
  lifecycle('response.completed'),
  lifecycle('response.failed'),
  lifecycle('response.incomplete'),
  z.object({ type: z.literal('response.output_item.added'), output_index: z.number().int(), item: anyObject }),
  z.object({ type: z.literal('response.output_item.done'), output_index: z.number().int(), item: anyObject }),
  z.object({ type: z.literal('response.content_part.added'), ...partScoped, part: anyObject }),
  z.object({ type: z.literal('response.content_part.done'), ...partScoped, part: anyObject }),
  z.object({ type: z.literal('response.output_text.delta'), ...partScoped, delta: z.string(), logprobs: z.array(TokenLogprobSchema) }),
  z.object({ type: z.literal('response.output_text.done'), ...partScoped, text: z.string(), logprobs: z.array(TokenLogprobSchema) }),
  // The openai SDK's names; Open Responses calls these `response.reasoning.delta` / `.done`.
  z.object({ type: z.literal('response.reasoning_text.delta'), ...partScoped, delta: z.string() }),
  z.object({ type: z.literal('response.reasoning_text.done'), ...partScoped, text: z.string() }),
  // Reasoning summaries: only Responses upstreams give them (a Chat Completions upstream streams raw reasoning).
  z.object({ type: z.literal('response.reasoning_summary_part.added'), ...itemScoped, summary_index: z.number().int(), part: z.object({ type: z.literal('summary_text'), text: z.string() }) }),
  z.object({ type: z.literal('response.reasoning_summary_part.done'), ...itemScoped, summary_index: z.number().int(), part: z.object({ type: z.literal('summary_text'), text: z.string() }) }),
  z.object({ type: z.literal('response.reasoning_summary_text.delta'), ...itemScoped, summary_index: z.number().int(), delta: z.string() }),
  z.object({ type: z.literal('response.reasoning_summary_text.done'), ...itemScoped, summary_index: z.number().int(), text: z.string() }),
  z.object({ type: z.literal('response.refusal.delta'), ...partScoped, delta: z.string() }),
  z.object({ type: z.literal('response.refusal.done'), ...partScoped, refusal: z.string() }),
  z.object({ type: z.literal('response.function_call_arguments.delta'), ...itemScoped, delta: z.string() }),
  z.object({ type: z.literal('response.function_call_arguments.done'), ...itemScoped, arguments: z.string(), name: z.string() }),
  z.object({ type: z.literal('response.mcp_list_tools.in_progress'), ...itemScoped }),
  z.object({ type: z.literal('response.mcp_list_tools.completed'), ...itemScoped }),
  z.object({ type: z.literal('response.mcp_list_tools.failed'), ...itemScoped }),
  z.object({ type: z.literal('response.mcp_call_arguments.delta'), ...itemScoped, delta: z.string() }),
  z.object({ type: z.literal('response.mcp_call_arguments.done'), ...itemScoped, arguments: z.string() }),
  z.object({ type: z.literal('response.mcp_call.in_progress'), ...itemScoped }),
  z.object({ type: z.literal('response.mcp_call.completed'), ...itemScoped }),
  z.object({ type: z.literal('response.mcp_call.failed'), ...itemScoped }),
  ...HOSTED_ITEM_EVENTS,
  z.object({
    type: z.literal('error'),
    code: z.string().nullable(),
    message: z.string(),
    param: z.string().nullable(),
    error: z.object({ type: z.string(), code: z.string().nullable(), message: z.string(), param: z.string().nullable() }),
  }),
]);

type Schema = z.infer<typeof EventDraftSchema>;
type Narrow<T extends Schema['type']> = Extract<Schema, { type: T }>;

/** Drafts with our precise item and response types where the schema is loose. */
type ItemEventType = 'response.output_item.added' | 'response.output_item.done';
type PartEventType = 'response.content_part.added' | 'response.content_part.done';
/** Omit over each member of a union apart (a plain Omit merges the union's `type` literals). */
type With<T extends Schema['type'], K extends string, V> = T extends Schema['type'] ? Omit<Narrow<T>, K> & { [P in K]: V } : never;
export type EventDraft =
  | With<LifecycleType, 'response', Response>
  | With<ItemEventType, 'item', OutputItem>
  | With<PartEventType, 'part', OutputTextPart | RefusalPart | ReasoningTextPart>
  | Exclude<Schema, { type: LifecycleType | 'response.output_item.added' | 'response.output_item.done' | 'response.content_part.added' | 'response.content_part.done' }>;
export type EventType = EventDraft['type'];
export type StreamEvent = EventDraft & { sequence_number: number };

export type LifecycleType = 'response.created' | 'response.queued' | 'response.in_progress' | 'response.completed' | 'response.failed' | 'response.incomplete';
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(['response.completed', 'response.failed', 'response.incomplete']);

export type LifecycleEvent = EventDraft & { type: LifecycleType; response: Response };

/**
 * A lifecycle event. It carries the response as given, not a copy: events are serialised when
 * they are emitted (see redis/writer), so later changes to the snapshot cannot reach them.
 */
export function lifecycleEvent(type: LifecycleType, response: Response): LifecycleEvent {
  return { type, response } as LifecycleEvent;
}

/** The stream `error` event, in the flat form the OpenAI SDK types and the nested form Open Responses requires. */
export function errorEvent(code: string | null, message: string, param: string | null = null, type = 'server_error'): EventDraft {
  return { type: 'error', code, message, param, error: { type, code, message, param } };
}
