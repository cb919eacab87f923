import {
  ApiError,
  asConversationItem,
  newId,
  type Conversation,
  type ConversationCreateRequest,
  type ConversationDeleted,
  type ConversationItemsCreateRequest,
  type ConversationUpdateRequest,
  type InputItem,
} from '@spool/protocol';
import type { ConversationMeta, ConversationStore, ResponseStore, StoredItem } from '@spool/redis';
import type { InputItemsQuery } from './input-items.ts';
import { normalizeInput } from './create-input.ts';

export interface ConversationsServiceDeps {
  conversations: ConversationStore;
  /** To tell a finished holder of a conversation's lock from a running one. */
  responses: ResponseStore;
  limits: { retention_seconds: number; max_input_items: number; max_conversation_items: number };
  now: () => number;
}

export interface ConversationItemList {
  object: 'list';
  data: Array<Record<string, unknown> & { id: string }>;
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** How long a running response holds its conversation at most, if it is never released. */
const LOCK_SECONDS = 3600;

function toConversation(meta: ConversationMeta): Conversation {
  return { id: meta.id, object: 'conversation', created_at: meta.createdAt, metadata: meta.metadata };
}

function stored(items: InputItem[]): StoredItem[] {
  return items.map((item) => {
    const listed = asConversationItem(item);
    return { id: listed.id, json: JSON.stringify(listed) };
  });
}

function list(items: StoredItem[], hasMore: boolean): ConversationItemList {
  return {
    object: 'list',
    data: items.map((i) => JSON.parse(i.json) as Record<string, unknown> & { id: string }),
    first_id: items[0]?.id ?? null,
    last_id: items.at(-1)?.id ?? null,
    has_more: hasMore,
  };
}

/**
 * The Conversations use cases, free of HTTP. A conversation belongs to the key that created it;
 * another key gets 404 for it and everything in it.
 */
export class ConversationsService {
  constructor(private readonly d: ConversationsServiceDeps) {}

  private get ttl(): number {
    return this.d.limits.retention_seconds;
  }

  private async visible(id: string, owner: string): Promise<ConversationMeta> {
    const meta = await this.d.conversations.get(id);
    if (!meta || meta.owner !== owner) throw ApiError.notFound(`Conversation with id '${id}' not found.`, 'conversation_id');
    return meta;
  }

  async create(req: ConversationCreateRequest, owner: string): Promise<Conversation> {
    const meta: ConversationMeta = { id: newId('conv'), owner, createdAt: this.d.now(), metadata: req.metadata ?? {} };
    await this.d.conversations.create(meta, stored(normalizeInput(req.items ?? [])), this.ttl);
    return toConversation(meta);
  }

  async get(id: string, owner: string): Promise<Conversation> {
    return toConversation(await this.visible(id, owner));
  }

  async update(id: string, owner: string, req: ConversationUpdateRequest): Promise<Conversation> {
    const meta = await this.visible(id, owner);
    const metadata = req.metadata ?? {};
    if (!(await this.d.conversations.setMetadata(id, metadata, this.ttl))) throw ApiError.notFound(`Conversation with id '${id}' not found.`, 'conversation_id');
    return toConversation({ ...meta, metadata });
  }

  async delete(id: string, owner: string): Promise<ConversationDeleted> {
    await this.visible(id, owner);
    await this.d.conversations.delete(id);
    return { id, object: 'conversation.deleted', deleted: true };
  }

  /**
   * A conversation is bounded (`max_conversation_items`): it is every later response's context.
   * Checked before a write, not in it, so concurrent writers may pass it by one request's items.
   */
  private async assertRoom(id: string, adding: number): Promise<void> {
    const max = this.d.limits.max_conversation_items;
    const count = await this.d.conversations.count(id);
    if (count + adding > max) {
      throw ApiError.badRequest(`Conversation '${id}' holds ${count} items; at most ${max} are allowed.`, 'conversation', 'conversation_too_large');
    }
  }

  async addItems(id: string, owner: string, req: ConversationItemsCreateRequest): Promise<ConversationItemList> {
    await this.visible(id, owner);
    await this.assertRoom(id, req.items.length);
    const items = stored(normalizeInput(req.items));
    if (!(await this.d.conversations.append(id, items, this.ttl))) throw ApiError.notFound(`Conversation with id '${id}' not found.`, 'conversation_id');
    return list(items, false);
  }

  async listItems(id: string, owner: string, query: InputItemsQuery): Promise<ConversationItemList> {
    await this.visible(id, owner);
    const page = await this.d.conversations.page(id, query);
    if (page === 'after_not_found') throw ApiError.badRequest(`No item with id '${query.after ?? ''}' in conversation '${id}'.`, 'after');
    return list(page.items, page.hasMore);
  }

  async getItem(id: string, itemId: string, owner: string): Promise<Record<string, unknown>> {
    await this.visible(id, owner);
    const item = await this.d.conversations.item(id, itemId);
    if (!item) throw ApiError.notFound(`Item with id '${itemId}' not found in conversation '${id}'.`, 'item_id');
    return JSON.parse(item.json) as Record<string, unknown>;
  }

  /** As the OpenAI API does, answers with the conversation the item was removed from. */
  async deleteItem(id: string, itemId: string, owner: string): Promise<Conversation> {
    const meta = await this.visible(id, owner);
    if (!(await this.d.conversations.deleteItem(id, itemId))) throw ApiError.notFound(`Item with id '${itemId}' not found in conversation '${id}'.`, 'item_id');
    return toConversation(meta);
  }

  /**
   * Takes the conversation for a new response, or refuses: one response at a time per
   * conversation (a second one is a 400 `conversation_locked` while the first runs). A lock whose
   * response has ended (sealed or gone) without releasing it is taken over.
   */
  async claim(id: string, owner: string, responseId: string): Promise<void> {
    await this.visible(id, owner);
    await this.assertRoom(id, 1);
    let result = await this.d.conversations.lock(id, responseId, LOCK_SECONDS);
    if (result.kind === 'busy') {
      const holder = await this.d.responses.final(result.holder);
      if (holder.snapshot === null || holder.sealed) result = await this.d.conversations.lock(id, responseId, LOCK_SECONDS, result.holder);
    }
    if (result.kind === 'gone') throw ApiError.notFound(`Conversation with id '${id}' not found.`, 'conversation');
    if (result.kind === 'busy') {
      throw ApiError.badRequest(`Another response ('${result.holder}') is in progress on conversation '${id}'; wait until it finishes.`, 'conversation', 'conversation_locked');
    }
  }

  /** Gives the conversation back (a create that was refused or could not be enqueued). */
  async release(id: string, responseId: string): Promise<void> {
    await this.d.conversations.unlock(id, responseId);
  }

  /** Appends a response's items and releases its lock, in one step. */
  async appendTurn(id: string, responseId: string, items: InputItem[]): Promise<void> {
    await this.d.conversations.append(id, stored(items), this.ttl, responseId);
  }
}
