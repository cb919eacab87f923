import type { StoredRequest } from '@spool/contracts';
import { asConversationItem, conversationIdOf, type InputItem, type Response, type ResponseStatus } from '@spool/protocol';
import type { ConversationStore, ResponseRecord } from '@spool/redis';
import type { ContextItem } from './messages.ts';

/** The items of the response's conversation, oldest first: they come before its own input. */
export async function conversationContext(store: ConversationStore | null | undefined, request: StoredRequest): Promise<ContextItem[]> {
  const id = conversationIdOf(request.conversation);
  if (id === null || !store) return [];
  // Written by Spool after validation (items API, or a finished response), so read as they are.
  return (await store.allItems(id)).map((item) => JSON.parse(item.json) as ContextItem);
}

/**
 * When a response on a conversation ends: a completed or incomplete one appends its input and
 * output items in one atomic step, which also releases the conversation; a failed one only
 * releases it (its items are not part of the conversation, as a retry would repeat them).
 */
export async function endConversationTurn(
  store: ConversationStore | null | undefined,
  request: StoredRequest,
  record: Pick<ResponseRecord, 'id' | 'input'>,
  final: Response,
  status: ResponseStatus,
  ttlSeconds: number,
): Promise<void> {
  const id = conversationIdOf(request.conversation);
  if (id === null || !store) return;
  if (status !== 'completed' && status !== 'incomplete') return store.unlock(id, record.id);
  const items = [...(JSON.parse(record.input) as InputItem[]), ...final.output].map((item) => {
    const listed = asConversationItem(item);
    return { id: listed.id, json: JSON.stringify(listed) };
  });
  await store.append(id, items, ttlSeconds, record.id);
}
