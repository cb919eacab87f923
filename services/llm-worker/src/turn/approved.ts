import type { McpJob } from '@spool/contracts';
import type { Turn } from './context.ts';
import type { TurnOutcome } from './deps.ts';
import { awaitingNothing, handOver, mcpCallJob } from './handover.ts';
import { openApprovedCall } from './mcp-items.ts';

/**
 * Step 1b: the approved calls of a follow-up run first, exactly as parked, with no model
 * inference; null when there are none. Denied ones run nothing: the model learns of the denial
 * from the input.
 */
export async function runApproved(turn: Turn): Promise<TurnOutcome | null> {
  const approved = (turn.job.approvals ?? []).filter((a) => a.approve);
  if (approved.length === 0) return null;
  const awaiting = awaitingNothing();
  const children: McpJob[] = [];
  for (const a of approved) {
    const { item, outputIndex } = openApprovedCall(turn.writer, { server_label: a.call.serverLabel, name: a.call.name, arguments: a.call.arguments, approval_request_id: a.approvalRequestId });
    awaiting.calls.push({ itemId: item.id, outputIndex });
    children.push(
      mcpCallJob(
        turn,
        { itemId: item.id, outputIndex, serverLabel: a.call.serverLabel, serverUrl: a.call.serverUrl, toolName: a.call.name, arguments: a.call.arguments, approvalRequestId: a.approvalRequestId },
        // The flags the call was parked with (and the approval id's MAC covers).
        { readOnly: a.call.readOnly, retrySafe: a.call.retrySafe },
      ),
    );
  }
  return handOver(turn, awaiting, children);
}
