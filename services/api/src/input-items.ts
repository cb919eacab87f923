import { ApiError, type InputItem } from '@spool/protocol';

/*
 * `GET /v1/responses/{id}/input_items`: a cursor page over the response's own input items, as
 * openai-node's `CursorPage` reads it (`data`, `has_more`, next cursor = the last item's id sent
 * back as `after`). Items inherited through `previous_response_id` are not listed: each response
 * lists what its own request brought (the OpenAI behaviour here is unverified; this is the choice
 * that never shows one response's items under another's id).
 */

const INPUT_ITEMS_DEFAULT_LIMIT = 20;
const INPUT_ITEMS_MAX_LIMIT = 100;

export interface InputItemsQuery {
  after: string | null;
  limit: number;
  order: 'asc' | 'desc';
}

/** An input item as listed: always with an id; messages always with a status. */
export type ListedItem = InputItem & { id: string };

export interface InputItemsPage {
  object: 'list';
  data: ListedItem[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw ApiError.badRequest(`Invalid value for '${name}': expected a single value.`, name, 'invalid_type');
  return v;
}

/** Reads `after`, `limit` and `order` from a parsed query string; `include` is accepted and ignored. */
export function parseInputItemsQuery(query: Record<string, unknown>): InputItemsQuery {
  const rawLimit = single(query, 'limit');
  let limit = INPUT_ITEMS_DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (!/^-?\d+$/.test(rawLimit)) throw ApiError.badRequest(`Invalid value for 'limit': expected an integer, got '${rawLimit}'.`, 'limit', 'invalid_type');
    limit = Number(rawLimit);
    if (limit < 1) throw ApiError.badRequest(`Invalid 'limit': integer below minimum value. Expected a value >= 1, but got ${rawLimit} instead.`, 'limit', 'integer_below_min_value');
    if (limit > INPUT_ITEMS_MAX_LIMIT) {
      throw ApiError.badRequest(`Invalid 'limit': integer above maximum value. Expected a value <= ${INPUT_ITEMS_MAX_LIMIT}, but got ${rawLimit} instead.`, 'limit', 'integer_above_max_value');
    }
  }
  const order = single(query, 'order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw ApiError.badRequest(`Invalid value for 'order': expected 'asc' or 'desc', got '${order}'.`, 'order', 'invalid_value');
  const after = single(query, 'after');
  return { after: after ? after : null, limit, order };
}

/**
 * The listed form of a stored item. The API stores input normalised (every item with an id), so
 * the fallback id only covers records written before that; it is positional, hence stable.
 */
export function listedItem(item: InputItem, index: number): ListedItem {
  const id = 'id' in item && typeof item.id === 'string' && item.id !== '' ? item.id : `item_${index}`;
  if (item.type === 'message') return { ...item, id, status: item.status ?? 'completed' };
  return { ...item, id } as ListedItem;
}

/**
 * One page of `items` (in request order). `after` is an item id; when one id occurs more than
 * once (a client may send its own ids twice), the page starts after its last occurrence, so that
 * paging always moves forward. An `after` that names no item of this response is a 400.
 */
export function pageInputItems(items: readonly InputItem[], q: InputItemsQuery): InputItemsPage {
  const listed = items.map(listedItem);
  if (q.order === 'desc') listed.reverse();
  let start = 0;
  if (q.after !== null) {
    const at = listed.map((i) => i.id).lastIndexOf(q.after);
    if (at < 0) throw ApiError.badRequest(`No input item with id '${q.after}' in this response.`, 'after', 'invalid_value');
    start = at + 1;
  }
  const data = listed.slice(start, start + q.limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + data.length < listed.length,
  };
}
