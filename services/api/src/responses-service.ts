import type { Keys, TurnJob } from '@spool/contracts';
import {
  ApiError,
  buildResponse,
  lifecycleEvent,
  newId,
  type CreateResponseRequest,
  type InputItem,
  type Response,
} from '@spool/protocol';
import { ChainError, followEvents, loadChain, type LiveHub, type LogEntry, type ResponseRecord, type ResponseStore } from '@spool/redis';

export interface ResponsesServiceDeps {
  store: ResponseStore;
  hub: LiveHub;
  keys: Keys;
  enqueueTurn: (job: TurnJob) => Promise<void>;
  /** True when some upstream serves this model. */
  hasModel: (model: string) => boolean;
  limits: {
    retention_seconds: number;
    ephemeral_retention_seconds: number;
    max_chain_depth: number;
    max_input_items: number;
    max_tools: number;
    keepalive_ms: number;
  };
  now: () => number;
}

export interface Created {
  id: string;
  response: Response;
}

/** Gives every input item an id (input_items lists them, and the SDK pages by id). */
export function normalizeInput(input: CreateResponseRequest['input']): InputItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') {
    return [{ type: 'message', id: newId('msg'), role: 'user', content: [{ type: 'input_text', text: input }] }];
  }
  return input.map((item) => {
    if (item.type === 'message') {
      const content = typeof item.content === 'string' ? [{ type: 'input_text' as const, text: item.content }] : item.content;
      return { ...item, id: item.id ?? newId('msg'), content };
    }
    if (item.type === 'function_call') return { ...item, id: item.id ?? newId('fc') };
    if (item.type === 'function_call_output') return { ...item, id: item.id ?? newId('fco') };
    if (item.type === 'mcp_approval_response') return { ...item, id: item.id ?? newId('mcpa') };
    return item;
  });
}

/** Call ids a function_call_output may answer: function calls in the chain and in this input. */
function knownCallIds(chain: ResponseRecord[], input: InputItem[]): Set<string> {
  const ids = new Set<string>();
  for (const r of chain) {
    for (const item of r.snapshot.output) if (item.type === 'function_call') ids.add(item.call_id);
    for (const item of JSON.parse(r.input) as InputItem[]) if (item.type === 'function_call') ids.add(item.call_id);
  }
  for (const item of input) if (item.type === 'function_call') ids.add(item.call_id);
  return ids;
}

/**
 * The responses use cases, free of HTTP: routes parse and format, this decides. It never calls a
 * model: it writes the record, enqueues the first turn, and reads the event log.
 */
export class ResponsesService {
  constructor(private readonly d: ResponsesServiceDeps) {}

  async create(request: CreateResponseRequest, owner: string): Promise<Created> {
    const { limits } = this.d;
    if (!this.d.hasModel(request.model)) {
      throw new ApiError(400, `The model '${request.model}' is not served here: no configured upstream matches it.`, 'invalid_request_error', 'model_not_found', 'model');
    }
    const input = normalizeInput(request.input);
    if (input.length > limits.max_input_items) throw ApiError.badRequest(`Too many input items: at most ${limits.max_input_items}.`, 'input', 'too_many_items');
    if ((request.tools?.length ?? 0) > limits.max_tools) throw ApiError.badRequest(`Too many tools: at most ${limits.max_tools}.`, 'tools', 'too_many_tools');
    if (request.background && request.store === false) {
      // Accepted: kept only as long as a poll needs (ephemeral retention), documented in the README.
    }

    let chain: ResponseRecord[] = [];
    if (request.previous_response_id) {
      try {
        chain = await loadChain(this.d.store, request.previous_response_id, owner, limits.max_chain_depth);
      } catch (err) {
        if (err instanceof ChainError && err.code === 'previous_response_not_found') {
          throw new ApiError(400, `Previous response with id '${request.previous_response_id}' not found.`, 'invalid_request_error', 'previous_response_not_found', 'previous_response_id');
        }
        if (err instanceof ChainError) throw ApiError.badRequest(err.message, 'previous_response_id', err.code);
        throw err;
      }
      const last = chain[chain.length - 1];
      if (last && (last.status === 'queued' || last.status === 'in_progress')) {
        throw ApiError.badRequest(`Previous response with id '${last.id}' is still ${last.status}; wait until it finishes.`, 'previous_response_id', 'previous_response_in_progress');
      }
    }
    const callIds = knownCallIds(chain, input);
    input.forEach((item, i) => {
      if (item.type === 'function_call_output' && !callIds.has(item.call_id)) {
        throw ApiError.badRequest(`No tool call found for function call output with call_id '${item.call_id}'.`, `input[${i}].call_id`, 'invalid_value');
      }
    });

    const id = newId('resp');
    const background = request.background ?? false;
    const response = buildResponse({ id, request, createdAt: this.d.now(), status: background ? 'queued' : 'in_progress' });
    const { input: _input, ...stored } = request;
    const events = background
      ? [lifecycleEvent('response.created', response), lifecycleEvent('response.queued', response)]
      : [lifecycleEvent('response.created', response), lifecycleEvent('response.in_progress', response)];
    const storeIt = request.store ?? true;
    await this.d.store.create({
      id,
      owner,
      snapshot: response,
      request: JSON.stringify(stored),
      input: JSON.stringify(input),
      previousResponseId: request.previous_response_id ?? null,
      store: storeIt,
      background,
      events,
      ttlSeconds: storeIt ? limits.retention_seconds : limits.ephemeral_retention_seconds,
    });
    try {
      await this.d.enqueueTurn({ responseId: id, turn: 0 });
    } catch (err) {
      // Acknowledge nothing we cannot run: the record is removed and the client sees a 503.
      await this.d.store.delete(id).catch(() => undefined);
      throw err;
    }
    return { id, response };
  }

  /** The record if `owner` may see it, else a 404 (never a 403: ids of others do not exist). */
  async getVisible(id: string, owner: string): Promise<ResponseRecord> {
    const record = await this.d.store.get(id);
    if (!record || record.owner !== owner || (!record.store && !record.background)) throw ApiError.responseNotFound(id);
    return record;
  }

  /** Like getVisible, but also serves `store: false` responses to the request that created them. */
  async getOwn(id: string, owner: string): Promise<ResponseRecord> {
    const record = await this.d.store.get(id);
    if (!record || record.owner !== owner) throw ApiError.responseNotFound(id);
    return record;
  }

  /** Waits until the response is sealed and returns its final state. */
  async waitForFinal(id: string, signal?: AbortSignal): Promise<Response> {
    let terminal: string | null = null;
    const outcome = await followEvents({
      store: this.d.store,
      hub: this.d.hub,
      keys: this.d.keys,
      responseId: id,
      after: -1,
      pollIntervalMs: this.d.limits.keepalive_ms,
      onEvent: (e) => {
        if (e.type === 'response.completed' || e.type === 'response.failed' || e.type === 'response.incomplete') terminal = e.json;
      },
      ...(signal ? { signal } : {}),
    });
    if (terminal !== null) return (JSON.parse(terminal) as { response: Response }).response;
    if (outcome === 'missing') throw ApiError.responseNotFound(id);
    const record = await this.d.store.get(id);
    if (!record) throw ApiError.responseNotFound(id);
    return record.snapshot;
  }

  /** Replays the log after `after` and follows it until the response is sealed. */
  follow(id: string, after: number, onEvent: (e: LogEntry) => void, signal: AbortSignal) {
    return followEvents({
      store: this.d.store,
      hub: this.d.hub,
      keys: this.d.keys,
      responseId: id,
      after,
      onEvent,
      signal,
      pollIntervalMs: this.d.limits.keepalive_ms,
    });
  }
}
