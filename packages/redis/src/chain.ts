import type { ResponseRecord, ResponseStore } from './store.ts';

export class ChainError extends Error {
  override readonly name = 'ChainError';
  constructor(
    readonly code: 'previous_response_not_found' | 'chain_too_long' | 'previous_response_in_progress',
    readonly responseId: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Loads the previous_response_id chain ending at `lastId`, oldest first. A record that is missing,
 * not stored, or owned by another key reads as not found: ownership checks fail closed.
 * `acceptUnstored` lets a `store: false` record through: the WebSocket connection that created it
 * may continue it (and the worker runs what the API accepted).
 */
export async function loadChain(
  store: ResponseStore,
  lastId: string,
  owner: string,
  maxDepth: number,
  acceptUnstored: (id: string) => boolean = () => false,
): Promise<ResponseRecord[]> {
  const chain: ResponseRecord[] = [];
  let id: string | null = lastId;
  while (id) {
    if (chain.length >= maxDepth) throw new ChainError('chain_too_long', lastId, `The previous_response_id chain is longer than ${maxDepth} responses.`);
    const record: ResponseRecord | null = await store.get(id);
    if (!record || record.owner !== owner || (!record.store && !record.background && !acceptUnstored(record.id))) {
      throw new ChainError('previous_response_not_found', id, `Previous response with id '${id}' not found.`);
    }
    chain.push(record);
    id = record.previousResponseId;
  }
  return chain.reverse();
}
