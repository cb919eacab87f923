import type { Job } from 'bullmq';
import { McpJobResultSchema, TurnJobSchema, type McpJobResult } from '@spool/contracts';
import { CLOSED_POLL_MS, watchClosed, type LiveHub } from '@spool/redis';
import type { Logger } from '@spool/runtime';
import { failFromLog, INTERRUPTED } from './turn/recover.ts';
import { runTurn, type TurnDeps, type TurnOutcome } from './turn/run.ts';

/** Results of this turn's MCP children (a BullMQ flow); a child that failed for good has none. */
async function childResults(job: Job): Promise<McpJobResult[]> {
  if (!job.data?.awaiting) return [];
  const values = await job.getChildrenValues();
  return Object.values(values).flatMap((v) => {
    const parsed = McpJobResultSchema.safeParse(v);
    return parsed.success ? [parsed.data] : [];
  });
}

/**
 * Parses the job, runs the turn, classifies errors. Anything unexpected fails the response with a
 * `server_error` (so no response is left in progress); if even that cannot be written (Redis
 * away), the job throws and BullMQ retries it.
 */
export function createTurnProcessor(deps: TurnDeps & { logger: Logger; hub?: LiveHub }) {
  return async (job: Job, _token?: string, signal?: AbortSignal): Promise<TurnOutcome> => {
    const parsed = TurnJobSchema.parse(job.data);
    // One span per turn job; the upstream call and the jobs this turn enqueues are its children.
    const span = deps.observe?.turnStarted(parsed);
    const data = span && Object.keys(span.carrier).length > 0 ? { ...parsed, trace: span.carrier } : parsed;
    let outcomeKind = 'error';
    // Built only when something is logged: a child logger per job is a measurable cost per turn.
    let child: Logger | null = null;
    const log = () => (child ??= deps.logger.child({ responseId: data.responseId, turn: data.turn, jobId: job.id }));
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort(), { once: true });
    // A cancel or delete seals the record from the API. A turn that is writing learns it from the
    // refused append; one waiting on a quiet upstream (or on its first token) learns it here, and
    // the abort ends its upstream request at once.
    const stopWatching = watchClosed(deps.store, data.responseId, () => abort.abort(), CLOSED_POLL_MS, deps.hub);
    try {
      // Started before and not finished: the worker that held it died mid-turn.
      if (job.attemptsStarted > 1) {
        log().warn('turn interrupted by a dead worker; failing the response');
        await failFromLog(deps, data.responseId, INTERRUPTED);
        outcomeKind = 'finished';
        return { kind: 'finished', status: 'failed' };
      }
      const outcome = await runTurn(deps, data, await childResults(job), abort.signal);
      if (deps.logger.isLevelEnabled('debug')) log().debug({ outcome }, 'turn done');
      outcomeKind = outcome.kind === 'missing' ? 'closed' : outcome.kind;
      return outcome;
    } catch (err) {
      log().error({ err }, 'turn failed unexpectedly');
      const sealed = await failFromLog(deps, data.responseId, 'The server had an error while running the model turn.');
      return sealed ? { kind: 'finished', status: 'failed' } : { kind: 'closed' };
    } finally {
      stopWatching();
      span?.end(outcomeKind);
    }
  };
}
