import type { McpJob } from '@spool/contracts';
import type { Turn } from './context.ts';
import type { ModelTurn } from './call-model.ts';
import type { TurnOutcome } from './deps.ts';
import { awaitingNothing, callFlags, handOver, mcpCallJob } from './handover.ts';
import { serverUrlOf } from './mcp.ts';
import { closeCall } from './mcp-items.ts';
import { mcpFunctionName } from './tool-names.ts';

/** Approval requests are parked (the whole call, minus credentials) before anyone can see them. */
export async function parkApprovals(turn: Turn, { result, mcp }: ModelTurn): Promise<void> {
  if (result.approvalRequests.length === 0) return;
  const { deps, job, record } = turn;
  await deps.approvals.park(
    job.responseId,
    result.approvalRequests.map((req) => {
      const ref = mcp.refs.get(mcpFunctionName(req.server_label, req.name));
      return {
        approvalRequestId: req.id,
        responseId: job.responseId,
        owner: record.owner,
        serverLabel: req.server_label,
        serverUrl: ref ? serverUrlOf(ref.tool) : null,
        name: req.name,
        arguments: req.arguments,
        ...mcp.flags(req.server_label, req.name),
      };
    }),
    turn.ttl,
  );
}

/**
 * Step 4: the model's MCP calls run on the executor as children of the next turn; null when the
 * turn made none (or was cut off by the token limit). Calls to unknown tools and calls past
 * `max_tool_calls` are closed as refused; the model hears about them on the next turn either way.
 */
export async function dispatchCalls(turn: Turn, { result, mcp, callsSoFar }: ModelTurn): Promise<TurnOutcome | null> {
  if (result.mcpCalls.length === 0 || result.finishReason === 'length') return null;
  const { request, writer } = turn;
  const awaiting = awaitingNothing();
  const children: McpJob[] = [];
  let allowed = Math.max(0, (request.max_tool_calls ?? Infinity) - callsSoFar);
  for (const call of result.mcpCalls) {
    const outputIndex = writer.snapshot.output.findIndex((i) => i.id === call.id);
    const ref = mcp.refs.get(mcpFunctionName(call.server_label, call.name));
    const refuse = (message: string) => closeCall(writer, outputIndex, { output: null, error: { type: 'mcp_protocol_error', code: -32600, message } });
    if (!ref) {
      refuse(`Unknown tool '${call.name}' on MCP server '${call.server_label}'.`);
      continue;
    }
    if (allowed <= 0) {
      refuse(`Not run: the response reached max_tool_calls (${request.max_tool_calls}).`);
      continue;
    }
    allowed -= 1;
    writer.emit({ type: 'response.mcp_call.in_progress', item_id: call.id, output_index: outputIndex });
    awaiting.calls.push({ itemId: call.id, outputIndex });
    children.push(
      mcpCallJob(
        turn,
        { itemId: call.id, outputIndex, serverLabel: call.server_label, serverUrl: serverUrlOf(ref.tool), toolName: call.name, arguments: call.arguments, approvalRequestId: null },
        callFlags(ref.info.annotations),
      ),
    );
  }
  return handOver(turn, awaiting, children);
}
