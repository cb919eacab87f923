import { z } from 'zod';
import { ApiError } from './errors.ts';
import { newId } from './ids.ts';
import { InputItemSchema } from './items.ts';
import { MetadataSchema, parseOrBadRequest } from './request.ts';

/*
 * The Conversations API (`/v1/conversations`), shapes as in openai-node's
 * `resources/conversations`. Items in and out are Responses items; a conversation is its metadata
 * plus an ordered list of items.
 */

/** Items one `POST /v1/conversations` or `POST .../items` may add (the OpenAI API's limit). */
export const MAX_CONVERSATION_ITEMS_PER_REQUEST = 20;

export const ConversationCreateRequestSchema = z.object({
  items: z.array(InputItemSchema).max(MAX_CONVERSATION_ITEMS_PER_REQUEST).nullish(),
  metadata: MetadataSchema.nullish(),
});
export type ConversationCreateRequest = z.infer<typeof ConversationCreateRequestSchema>;

export const ConversationUpdateRequestSchema = z.object({ metadata: MetadataSchema.nullable() });
export type ConversationUpdateRequest = z.infer<typeof ConversationUpdateRequestSchema>;

export const ConversationItemsCreateRequestSchema = z.object({
  items: z.array(InputItemSchema).min(1).max(MAX_CONVERSATION_ITEMS_PER_REQUEST),
});
export type ConversationItemsCreateRequest = z.infer<typeof ConversationItemsCreateRequestSchema>;

export const ConversationSchema = z.object({
  id: z.string(),
  object: z.literal('conversation'),
  created_at: z.number().int(),
  metadata: z.record(z.string(), z.string()),
});
export type Conversation = z.infer<typeof ConversationSchema>;

export const ConversationDeletedSchema = z.object({ id: z.string(), object: z.literal('conversation.deleted'), deleted: z.literal(true) });
export type ConversationDeleted = z.infer<typeof ConversationDeletedSchema>;

function objectBody(body: unknown, allowEmpty: boolean): Record<string, unknown> {
  if (body === undefined && allowEmpty) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw ApiError.badRequest('The request body must be a JSON object.', null, 'invalid_json');
  return body as Record<string, unknown>;
}

/** `POST /v1/conversations`: the SDK may send no body at all. */
export function parseConversationCreate(body: unknown): ConversationCreateRequest {
  return parseOrBadRequest(ConversationCreateRequestSchema, objectBody(body, true));
}

export function parseConversationUpdate(body: unknown): ConversationUpdateRequest {
  return parseOrBadRequest(ConversationUpdateRequestSchema, objectBody(body, false));
}

export function parseConversationItemsCreate(body: unknown): ConversationItemsCreateRequest {
  return parseOrBadRequest(ConversationItemsCreateRequestSchema, objectBody(body, false));
}

/** The conversation id of a `conversation` create parameter (`"conv_…"` or `{id}`). */
export function conversationIdOf(param: string | { id: string } | null | undefined): string | null {
  if (param === null || param === undefined) return null;
  return typeof param === 'string' ? param : param.id;
}

/**
 * An item as a conversation holds and lists it: always with an id, messages always with a status
 * (as openai-node's `ConversationItem` types them).
 */
export function asConversationItem<T extends { type: string; id?: string | null | undefined }>(item: T): T & { id: string } {
  const id = item.id ? item.id : newId('item');
  if (item.type === 'message' && (item as { status?: unknown }).status === undefined) return { ...item, id, status: 'completed' };
  return { ...item, id };
}
