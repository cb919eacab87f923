import { APIUserAbortError } from 'openai';
import type { McpJobResult, TurnJob } from '@spool/contracts';
import { ResponseClosedError } from '@spool/redis';
import { runApproved } from './approved.ts';
import { callModel } from './call-model.ts';
import { dispatchCalls, parkApprovals } from './calls.ts';
import { loadContext, openTurn } from './context.ts';
import { elicitationStep } from './elicitation.ts';
import type { TurnDeps, TurnOutcome } from './deps.ts';
import { ensureLists } from './lists.ts';
import { takeChildResults } from './results.ts';
import { fail, finishWith } from './seal.ts';

export type { TurnDeps, TurnOutcome } from './deps.ts';
export { upstreamFailure } from './upstream-failure.ts';

/**
 * One step of one response, as a pipeline (one file per step): take in the results of the MCP
 * jobs it waited for (results.ts), end the response on calls waiting for the user or resume them
 * with the user's answer (elicitation.ts), run approved calls (approved.ts), fetch missing tool lists
 * (lists.ts), call the model (call-model.ts), and either end the response (seal.ts) or hand MCP
 * calls to the executor with the next turn as their parent (calls.ts, handover.ts). One lifecycle
 * across all steps: one `response.created`, one terminal.
 */
export async function runTurn(deps: TurnDeps, job: TurnJob, childResults: McpJobResult[], signal: AbortSignal): Promise<TurnOutcome> {
  const turn = await openTurn(deps, job);
  if (turn === 'missing') return { kind: 'missing' };
  if (turn === 'sealed') return { kind: 'closed' };
  try {
    if (turn.record.status === 'queued') await turn.writer.setStatus('in_progress', 'response.in_progress');

    const listFailures = takeChildResults(turn, childResults);
    if (listFailures.length > 0) return await fail(turn, 'server_error', listFailures.join(' '));

    const elicited = await elicitationStep(turn, childResults);
    if (elicited) return elicited;

    const approved = await runApproved(turn);
    if (approved) return approved;
    if (job.turn >= deps.limits.max_turns) return await fail(turn, 'server_error', `The response reached the limit of ${deps.limits.max_turns} turns.`);

    const items = await loadContext(turn);
    if (!Array.isArray(items)) return await fail(turn, 'server_error', items.failure);

    const lists = await ensureLists(turn, items);
    if (!(lists instanceof Map)) return lists;

    const model = await callModel(turn, items, lists, signal);
    if (!('result' in model)) return model;

    await parkApprovals(turn, model);
    const handedOver = await dispatchCalls(turn, model);
    if (handedOver) return handedOver;

    const { finishReason } = model.result;
    if (finishReason === 'length' || finishReason === 'content_filter') {
      return await finishWith(turn, 'incomplete', { incomplete_details: { reason: finishReason === 'length' ? 'max_output_tokens' : 'content_filter' } });
    }
    return await finishWith(turn, 'completed', {});
  } catch (err) {
    if (err instanceof ResponseClosedError) return { kind: 'closed' };
    if (signal.aborted || err instanceof APIUserAbortError) return { kind: 'closed' };
    throw err;
  }
}
