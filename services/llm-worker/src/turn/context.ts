import { StoredInputSchema, StoredRequestSchema, type StoredRequest, type TurnJob } from '@spool/contracts';
import type { InputItem } from '@spool/protocol';
import { ChainError, loadChain, ResponseWriter, type ResponseRecord } from '@spool/redis';
import { conversationContext } from './conversation.ts';
import { retentionFor, type TurnDeps } from './deps.ts';
import type { ContextItem } from './messages.ts';

/** One turn job as every step sees it: the record it runs on, its request, and the writer of its events. */
export interface Turn {
  deps: TurnDeps;
  job: TurnJob;
  record: ResponseRecord;
  request: StoredRequest;
  /** Sealed MCP credentials and the trace carrier: they pass from this turn to its MCP jobs and the next turn. */
  carry: Pick<TurnJob, 'secrets' | 'trace' | 'chain'>;
  /** The response's retention, which every key this turn writes takes. */
  ttl: number;
  writer: ResponseWriter;
}

/** Loads the record a turn job runs on; null when it is gone, 'sealed' when someone else ended it. */
export async function openTurn(deps: TurnDeps, job: TurnJob): Promise<Turn | 'missing' | 'sealed'> {
  const record = await deps.store.get(job.responseId);
  if (!record) return 'missing';
  if (record.sealed) return 'sealed';
  const request: StoredRequest = StoredRequestSchema.parse(JSON.parse(record.request));
  const carry = { ...(job.secrets ? { secrets: job.secrets } : {}), ...(job.trace ? { trace: job.trace } : {}), ...(job.chain ? { chain: job.chain } : {}) };
  const ttl = retentionFor(record, deps.limits);
  const writer = new ResponseWriter({ store: deps.store, responseId: job.responseId, snapshot: record.snapshot, ttlSeconds: ttl });
  return { deps, job, record, request, carry, ttl, writer };
}

function contextOf(record: ResponseRecord): ContextItem[] {
  return [...(StoredInputSchema.parse(JSON.parse(record.input)) as InputItem[]), ...record.snapshot.output];
}

/**
 * What the model sees: the conversation's items, the `previous_response_id` chain, this
 * response's input and its output so far. Built once per turn: what is emitted after it (tool
 * lists) is not conversation, and reaches the model as tool definitions. A broken chain is the
 * message the response fails with.
 */
export async function loadContext(turn: Turn): Promise<ContextItem[] | { failure: string }> {
  const { deps, job, record, request, writer } = turn;
  let chain: ResponseRecord[] = [];
  if (record.previousResponseId) {
    try {
      // The API decided which unstored records this request may continue (those of its own WebSocket
      // connection); here only ownership is checked again.
      chain = await loadChain(deps.store, record.previousResponseId, record.owner, deps.limits.max_chain_depth, () => true, job.chain);
    } catch (err) {
      if (err instanceof ChainError) return { failure: err.message };
      throw err;
    }
  }
  return [...(await conversationContext(deps.conversations, request)), ...chain.flatMap(contextOf), ...contextOf({ ...record, snapshot: writer.snapshot })];
}
