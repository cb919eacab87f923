import type { McpJob, TurnJob } from '@spool/contracts';
import type { Turn } from './context.ts';
import type { TurnOutcome } from './deps.ts';

/** What the next turn waits for: the list and call items it will close with its children's results. */
export type Awaiting = NonNullable<TurnJob['awaiting']>;

export const awaitingNothing = (): Awaiting => ({ lists: [], calls: [] });

/**
 * The one rule for running a call again after a crash: only a tool that says it is read-only or
 * idempotent (MCP annotations) may run twice; everything else fails as interrupted instead.
 */
export function callFlags(annotations: Record<string, unknown> | null | undefined): { readOnly: boolean; retrySafe: boolean } {
  const readOnly = annotations?.readOnlyHint === true;
  return { readOnly, retrySafe: readOnly || annotations?.idempotentHint === true };
}

/** The MCP job that runs one call for the next turn. */
export function mcpCallJob(
  turn: Turn,
  call: { itemId: string; outputIndex: number; serverLabel: string; serverUrl: string | null; toolName: string; arguments: string; approvalRequestId: string | null },
  flags: { readOnly: boolean; retrySafe: boolean },
): McpJob {
  return { kind: 'call', responseId: turn.job.responseId, turn: turn.job.turn + 1, ...call, ...flags, ...turn.carry };
}

/** The MCP job that lists one server's tools for the next turn. */
export function mcpListJob(turn: Turn, serverLabel: string, serverUrl: string | null): McpJob {
  return { kind: 'list', responseId: turn.job.responseId, turn: turn.job.turn + 1, serverLabel, serverUrl, ...turn.carry };
}

/**
 * The hand-over to the next turn: every event so far is written first (the next turn may run on
 * another worker as soon as it is enqueued), then the next turn is enqueued with the MCP jobs it
 * waits for as its children.
 */
export async function handOver(turn: Turn, awaiting: Awaiting, children: McpJob[]): Promise<TurnOutcome> {
  await turn.writer.flush(true);
  await turn.deps.enqueueNext({ responseId: turn.job.responseId, turn: turn.job.turn + 1, ...turn.carry, awaiting }, children);
  return { kind: 'waiting', children: children.length };
}
