import { buildResponse, lifecycleEvent, type EventDraft, type OutputItem, type Response } from '@spool/protocol';
import { isRedisFailure, replayEvents, ResponseWriter, type ResponseRecord } from '@spool/redis';
import { retentionFor, type TurnDeps } from './deps.ts';

/** Events that close an item left open by a worker that died, as `incomplete`. */
function closingEvents(item: OutputItem, outputIndex: number): EventDraft[] {
  if (item.type === 'message' && item.status === 'in_progress') {
    const events: EventDraft[] = [];
    item.content.forEach((part, contentIndex) => {
      const base = { item_id: item.id, output_index: outputIndex, content_index: contentIndex };
      if (part.type === 'output_text') events.push({ type: 'response.output_text.done', ...base, text: part.text, logprobs: [] });
      events.push({ type: 'response.content_part.done', ...base, part });
    });
    events.push({ type: 'response.output_item.done', output_index: outputIndex, item: { ...item, status: 'incomplete' } });
    return events;
  }
  if (item.type === 'function_call' && item.status === 'in_progress') {
    return [
      { type: 'response.function_call_arguments.done', item_id: item.id, output_index: outputIndex, arguments: item.arguments, name: item.name },
      { type: 'response.output_item.done', output_index: outputIndex, item: { ...item, status: 'incomplete' } },
    ];
  }
  return [];
}

export const INTERRUPTED = 'The response was interrupted: the worker running it stopped before it finished. Retry the request.';

/**
 * Ends a response that its turn can no longer finish: a turn picked up again after the worker
 * holding it died (BullMQ found it stalled), or a turn that failed unexpectedly. The state is
 * rebuilt exactly from the event log (the stored snapshot may lag), open items are closed as
 * incomplete so the stream stays valid for the SDK, and the response fails with `server_error`
 * and `message`. It never stays in progress.
 */
export async function failFromLog(deps: TurnDeps, responseId: string, message: string): Promise<boolean> {
  let rebuilt: { record: ResponseRecord; writer: ResponseWriter; failed: Response };
  try {
    const record = await deps.store.get(responseId);
    if (!record || record.sealed) return false;
    const { events } = await deps.store.readEvents(responseId, -1);
    const snapshot: Response = replayEvents(structuredClone(record.snapshot), events);
    const writer = new ResponseWriter({ store: deps.store, responseId, snapshot, ttlSeconds: retentionFor(record, deps.limits) });
    snapshot.output.forEach((item, i) => closingEvents(item, i).forEach((e) => writer.emit(e)));
    const failed: Response = {
      ...structuredClone(writer.snapshot),
      status: 'failed',
      error: { code: 'server_error', message },
    };
    rebuilt = { record, writer, failed };
  } catch (err) {
    // The state cannot be rebuilt (too deep to clone, unparsable, a log this code cannot apply):
    // end it anyway, with a minimal snapshot. Redis errors are not this: they reach the caller,
    // and the job is tried again.
    if (isRedisFailure(err)) throw err;
    return failMinimal(deps, responseId, message);
  }
  const { record, writer, failed } = rebuilt;
  let ok: boolean;
  try {
    ok = await writer.finish(lifecycleEvent('response.failed', failed), 'failed');
  } catch (err) {
    if (isRedisFailure(err)) throw err;
    return failMinimal(deps, responseId, message);
  }
  if (ok) await deps.onSealed(responseId, 'failed', record.background);
  return ok;
}

/**
 * Seals a response `failed` with a snapshot built from its id and a few raw fields of the record,
 * parsing nothing the failed request gave: the fallback of failFromLog, so that no state, however
 * large or deep, leaves a response open. Its events stay in the log; only the final snapshot is
 * minimal (no output, the request's parameters at their defaults).
 */
async function failMinimal(deps: TurnDeps, responseId: string, message: string): Promise<boolean> {
  const brief = await deps.store.brief(responseId);
  if (!brief || brief.sealed) return false;
  const failed = buildResponse({
    id: responseId,
    request: { model: brief.model ?? 'unknown', background: brief.background, store: brief.store },
    createdAt: brief.createdAt ?? deps.now(),
    status: 'failed',
  });
  failed.error = { code: 'server_error', message };
  const writer = new ResponseWriter({ store: deps.store, responseId, snapshot: { ...failed }, ttlSeconds: retentionFor(brief, deps.limits) });
  const ok = await writer.finish(lifecycleEvent('response.failed', failed), 'failed');
  if (ok) await deps.onSealed(responseId, 'failed', brief.background);
  return ok;
}
