import { lifecycleEvent, type Response, type ResponseErrorCode, type Usage } from '@spool/protocol';
import type { Turn } from './context.ts';
import { endConversationTurn } from './conversation.ts';
import type { TurnOutcome } from './deps.ts';
import type { UpstreamUsage } from './translate.ts';

/**
 * Ends the response with its terminal event (one per response, whatever the number of turns),
 * then its conversation turn and the sealed hook. `closed` when someone else sealed it first.
 */
export async function finishWith(turn: Turn, status: 'completed' | 'failed' | 'incomplete', patch: Partial<Response>): Promise<TurnOutcome> {
  const { deps, writer, record, request } = turn;
  const final: Response = { ...structuredClone(writer.snapshot), ...patch, status };
  if (status === 'completed') final.completed_at = deps.now();
  const ok = await writer.finish(lifecycleEvent(`response.${status}`, final), status);
  if (!ok) return { kind: 'closed' };
  await endConversationTurn(deps.conversations, request, record, final, status, deps.limits.retention_seconds);
  await deps.onSealed(turn.job.responseId, status, record.background, { owner: record.owner, snapshot: final });
  return { kind: 'finished', status };
}

export function fail(turn: Turn, code: ResponseErrorCode, message: string): Promise<TurnOutcome> {
  return finishWith(turn, 'failed', { error: { code, message } });
}

/** The response's usage so far plus one upstream call's, in Responses names. */
export function addUsage(prev: Usage | null, u: UpstreamUsage | null): Usage | null {
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
