import type { McpTaskHandle } from '@spool/contracts';
import type { McpCallOutcome, McpClientPool, McpTarget } from './mcp/index.ts';

/**
 * Calls that run as MCP tasks (the tasks extension): started once, then polled with `tasks/get`
 * in short job runs until they end, when `tasks/result` is fetched once. Each function here is one
 * step of one job run; the processor stores the handle with the job and re-enqueues it between steps.
 */

/** Default total time of a task for servers named by URL (configured servers set `task_timeout_ms`). */
export const DEFAULT_TASK_TIMEOUT_MS = 6 * 3600_000;
/** Bounds on the server's suggested poll interval: not a busy loop, and not so rare that a finished task waits long. */
export const MIN_POLL_MS = 100;
export const MAX_POLL_MS = 30_000;
const DEFAULT_POLL_MS = 1000;

export type TaskStep =
  | { kind: 'done'; outcome: McpCallOutcome }
  /** Not finished: poll again after `delayMs`. `alive` when the server reported it working (a progress event is due). */
  | { kind: 'wait'; handle: McpTaskHandle; delayMs: number; alive: boolean };

export function pollDelay(suggestedMs: number | undefined): number {
  if (suggestedMs === undefined || !Number.isFinite(suggestedMs)) return DEFAULT_POLL_MS;
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, Math.round(suggestedMs)));
}

/** Starts the call as a task; null when the server or the tool has no task support (call it as today). */
export async function startAsTask(
  pool: McpClientPool,
  t: McpTarget,
  name: string,
  args: Record<string, unknown>,
  opts: { signal: AbortSignal; now: number; taskTimeoutMs: number },
): Promise<TaskStep | null> {
  const started = await pool.startTask(t, name, args, { signal: opts.signal, ttlMs: opts.taskTimeoutMs });
  if (!started.ok) return { kind: 'done', outcome: started.outcome };
  if (started.value === null) return null;
  const delayMs = pollDelay(started.value.pollIntervalMs);
  return { kind: 'wait', delayMs, alive: false, handle: { taskId: started.value.taskId, pollIntervalMs: delayMs, deadline: opts.now + opts.taskTimeoutMs, lastEventAt: 0 } };
}

/** One poll of a running task. */
export async function pollTask(pool: McpClientPool, t: McpTarget, name: string, handle: McpTaskHandle, opts: { signal: AbortSignal; now: number; taskTimeoutMs: number }): Promise<TaskStep> {
  if (opts.now > handle.deadline) {
    await pool.cancelTask(t, handle.taskId);
    return failed(-32001, `The tool's task did not finish within ${opts.taskTimeoutMs} ms (task_timeout_ms) and was cancelled.`);
  }
  const state = await pool.taskState(t, handle.taskId, { signal: opts.signal });
  if (!state.ok) return { kind: 'done', outcome: state.outcome };
  switch (state.value.status) {
    case 'working': {
      const delayMs = pollDelay(state.value.pollIntervalMs ?? handle.pollIntervalMs);
      return { kind: 'wait', delayMs, alive: true, handle: { ...handle, pollIntervalMs: delayMs } };
    }
    case 'completed':
    case 'failed':
      // A failed task's result is the tool's error (isError) or the JSON-RPC error it ended with.
      return { kind: 'done', outcome: await pool.taskResult(t, name, handle.taskId, { signal: opts.signal }) };
    case 'cancelled':
      return failed(-32001, "The MCP server cancelled the tool's task.");
    case 'input_required':
      // Elicitation is not supported: the task would wait for an answer that never comes.
      await pool.cancelTask(t, handle.taskId);
      return failed(-32601, 'The tool asked for user input (MCP elicitation), which Spool does not support; its task was cancelled.');
    default:
      return failed(-32603, `The MCP server reported an unknown task status.`);
  }
}

function failed(code: number, message: string): TaskStep {
  return { kind: 'done', outcome: { ok: false, error: { type: 'mcp_protocol_error', code, message }, message } };
}
