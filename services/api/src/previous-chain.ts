import { ApiError, type CreateResponseRequest } from '@spool/protocol';
import { ChainError, loadChain, type ResponseRecord, type ResponseStore } from '@spool/redis';

/**
 * The `previous_response_id` chain of a create, oldest first, as the 400s a client can act on:
 * another key's ids do not exist, a chain deeper than the bound is refused, and a response still
 * running cannot be continued yet. `local`: store:false ids a WebSocket connection may continue.
 */
export async function previousChain(
  store: ResponseStore,
  request: Pick<CreateResponseRequest, 'previous_response_id'>,
  owner: string,
  maxDepth: number,
  local?: ReadonlySet<string>,
): Promise<ResponseRecord[]> {
  const previous = request.previous_response_id;
  if (!previous) return [];
  let chain: ResponseRecord[];
  try {
    chain = await loadChain(store, previous, owner, maxDepth, (rid) => local?.has(rid) ?? false);
  } catch (err) {
    if (err instanceof ChainError && err.code === 'previous_response_not_found') {
      throw new ApiError(400, `Previous response with id '${previous}' not found.`, 'invalid_request_error', 'previous_response_not_found', 'previous_response_id');
    }
    if (err instanceof ChainError) throw ApiError.badRequest(err.message, 'previous_response_id', err.code);
    throw err;
  }
  const last = chain[chain.length - 1];
  if (last && (last.status === 'queued' || last.status === 'in_progress')) {
    throw ApiError.badRequest(`Previous response with id '${last.id}' is still ${last.status}; wait until it finishes.`, 'previous_response_id', 'previous_response_in_progress');
  }
  return chain;
}
