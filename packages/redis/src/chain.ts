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
 *
 * `knownIds` (oldest first, ending at `lastId`): the chain as someone already walked it (the API,
 * for the turn job). Its records are then read all at once, one round trip however deep the chain
 * (each record is its own command, so a Cluster routes each to its slot), and the links are checked
 * again; a chain that changed meanwhile (a record gone) is walked link by link as without ids.
 */
export async function loadChain(
  store: ResponseStore,
  lastId: string,
  owner: string,
  maxDepth: number,
  acceptUnstored: (id: string) => boolean = () => false,
  knownIds?: readonly string[],
): Promise<ResponseRecord[]> {
  if (knownIds && knownIds.length > 0 && knownIds.length <= maxDepth && knownIds[knownIds.length - 1] === lastId) {
    const records = await Promise.all(knownIds.map((id) => store.get(id)));
    const linked = records.every((r, i): r is ResponseRecord => r !== null && r.id === knownIds[i] && r.previousResponseId === (i === 0 ? null : knownIds[i - 1]) && visible(r, owner, acceptUnstored));
    if (linked) return records as ResponseRecord[];
  }
  const chain: ResponseRecord[] = [];
  let id: string | null = lastId;
  while (id) {
    if (chain.length >= maxDepth) throw new ChainError('chain_too_long', lastId, `The previous_response_id chain is longer than ${maxDepth} responses.`);
    const record: ResponseRecord | null = await store.get(id);
    if (!record || !visible(record, owner, acceptUnstored)) {
      throw new ChainError('previous_response_not_found', id, `Previous response with id '${id}' not found.`);
    }
    chain.push(record);
    id = record.previousResponseId;
  }
  return chain.reverse();
}

function visible(record: ResponseRecord, owner: string, acceptUnstored: (id: string) => boolean): boolean {
  return record.owner === owner && (record.store || record.background || acceptUnstored(record.id));
}
