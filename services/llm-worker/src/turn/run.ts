import { APIError, APIUserAbortError } from 'openai';
import { StoredInputSchema, StoredRequestSchema, type StoredRequest } from '@spool/contracts';
import {
  lifecycleEvent,
  type InputItem,
  type OutputItem,
  type Response,
  type ResponseStatus,
  type Usage,
} from '@spool/protocol';
import { loadChain, ResponseClosedError, ResponseWriter, type ResponseRecord, type ResponseStore } from '@spool/redis';
import type { Upstreams } from '../upstream.ts';
import { toChatMessages, type ContextItem } from './messages.ts';
import { buildChatParams, functionToolToModel } from './params.ts';
import { TurnTranslator, type TurnResult, type UpstreamUsage } from './translate.ts';

export interface TurnDeps {
  store: ResponseStore;
  upstreams: Upstreams;
  limits: { retention_seconds: number; ephemeral_retention_seconds: number; max_chain_depth: number; max_turns: number };
  now: () => number;
}

export type TurnOutcome =
  | { kind: 'finished'; status: ResponseStatus }
  /** The response was sealed (cancelled) or deleted by someone else; nothing more to do. */
  | { kind: 'closed' }
  | { kind: 'missing' };

/** Retention: stored responses keep their full lifetime; `store: false` ones only as long as a poll needs. */
export function retentionFor(record: Pick<ResponseRecord, 'store'>, limits: TurnDeps['limits']): number {
  return record.store ? limits.retention_seconds : limits.ephemeral_retention_seconds;
}

function contextOf(record: ResponseRecord): ContextItem[] {
  return [...(StoredInputSchema.parse(JSON.parse(record.input)) as InputItem[]), ...record.snapshot.output];
}

function addUsage(prev: Usage | null, u: UpstreamUsage | null): Usage | null {
  if (!u) return prev;
  const base = prev ?? { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
  return {
    input_tokens: base.input_tokens + u.prompt_tokens,
    input_tokens_details: { cached_tokens: base.input_tokens_details.cached_tokens + (u.prompt_tokens_details?.cached_tokens ?? 0) },
    output_tokens: base.output_tokens + u.completion_tokens,
    output_tokens_details: { reasoning_tokens: base.output_tokens_details.reasoning_tokens + (u.completion_tokens_details?.reasoning_tokens ?? 0) },
    total_tokens: base.total_tokens + u.total_tokens,
  };
}

/** Maps an upstream failure to a Response `error.code` and a message a client can act on. */
export function upstreamFailure(err: unknown, started: boolean): { code: string; message: string } {
  if (err instanceof APIError) {
    const status = err.status;
    const detail = err.message || 'no message';
    if (status === 429) return { code: 'rate_limit_exceeded', message: `The upstream model rate-limited the request: ${detail}` };
    if (status !== undefined) return { code: 'server_error', message: `The upstream model failed with HTTP ${status}: ${detail}` };
    return { code: 'server_error', message: `The upstream model could not be reached${started ? ' mid-stream' : ''}: ${detail}` };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'server_error', message: `The upstream model stream failed${started ? ' after output had started' : ''}: ${message}` };
}

/**
 * One model turn of one response: load the record and its chain, call the upstream, stream the
 * events into the log, and end the response (or hand over to the next step).
 */
export async function runTurn(deps: TurnDeps, responseId: string, turn: number, signal: AbortSignal): Promise<TurnOutcome> {
  const record = await deps.store.get(responseId);
  if (!record) return { kind: 'missing' };
  if (record.sealed) return { kind: 'closed' };
  const request: StoredRequest = StoredRequestSchema.parse(JSON.parse(record.request));
  const ttl = retentionFor(record, deps.limits);
  const writer = new ResponseWriter({ store: deps.store, responseId, snapshot: record.snapshot, ttlSeconds: ttl });

  const fail = async (code: string, message: string): Promise<TurnOutcome> => {
    const s: Response = { ...structuredClone(writer.snapshot), status: 'failed', error: { code, message } };
    const ok = await writer.finish(lifecycleEvent('response.failed', s), 'failed');
    return ok ? { kind: 'finished', status: 'failed' } : { kind: 'closed' };
  };

  try {
    if (record.status === 'queued') {
      writer.snapshot.status = 'in_progress';
      await writer.setStatus('in_progress', lifecycleEvent('response.in_progress', writer.snapshot));
    }
    if (turn >= deps.limits.max_turns) {
      return await fail('server_error', `The response reached the limit of ${deps.limits.max_turns} model turns.`);
    }

    const chain = record.previousResponseId ? await loadChain(deps.store, record.previousResponseId, record.owner, deps.limits.max_chain_depth) : [];
    const items: ContextItem[] = [...chain.flatMap(contextOf), ...contextOf({ ...record, snapshot: writer.snapshot })];
    const upstream = deps.upstreams.resolve(request.model);
    if (!upstream) return await fail('server_error', `No upstream is configured for model '${request.model}'.`);

    const functions = (request.tools ?? []).flatMap((t) => (t.type === 'function' ? [functionToolToModel(t)] : []));
    const params = buildChatParams({
      request,
      model: upstream.model,
      maxTokensParam: upstream.maxTokensParam,
      messages: toChatMessages(request.instructions ?? null, items),
      functions,
    });

    const translator = new TurnTranslator((e) => writer.emit(e), () => writer.snapshot.output.length, () => null);
    let result: TurnResult;
    try {
      const stream = await upstream.client.chat.completions.create(params, { signal });
      for await (const chunk of stream) translator.onChunk(chunk);
      result = translator.finish();
    } catch (err) {
      if (err instanceof ResponseClosedError || signal.aborted || err instanceof APIUserAbortError) throw err;
      const started = translator.started;
      translator.abandon();
      const f = upstreamFailure(err, started);
      return await fail(f.code, f.message);
    }

    writer.snapshot.usage = addUsage(writer.snapshot.usage, result.usage);
    const final: Response = structuredClone(writer.snapshot);
    if (result.finishReason === 'length' || result.finishReason === 'content_filter') {
      final.status = 'incomplete';
      final.incomplete_details = { reason: result.finishReason === 'length' ? 'max_output_tokens' : 'content_filter' };
      const ok = await writer.finish(lifecycleEvent('response.incomplete', final), 'incomplete');
      return ok ? { kind: 'finished', status: 'incomplete' } : { kind: 'closed' };
    }
    final.status = 'completed';
    final.completed_at = deps.now();
    const ok = await writer.finish(lifecycleEvent('response.completed', final), 'completed');
    return ok ? { kind: 'finished', status: 'completed' } : { kind: 'closed' };
  } catch (err) {
    if (err instanceof ResponseClosedError) return { kind: 'closed' };
    if (signal.aborted || err instanceof APIUserAbortError) return { kind: 'closed' };
    throw err;
  }
}

export type { OutputItem };
