import { APIUserAbortError } from 'openai';
import { mintApprovalRequestId } from '@spool/contracts';
import type { McpToolInfo } from '@spool/protocol';
import { ResponseClosedError } from '@spool/redis';
import { adapterFor, type ModelCall } from './adapter.ts';
import type { Turn } from './context.ts';
import type { TurnOutcome } from './deps.ts';
import { callFlags } from './handover.ts';
import { mcpFunctions, needsApproval, type McpFunctionEntry } from './mcp.ts';
import type { ContextItem } from './messages.ts';
import { functionToolToModel, wantsLogprobs } from './params.ts';
import { addUsage, fail } from './seal.ts';
import { mcpFunctionName } from './tool-names.ts';
import { TurnTranslator, type TurnResult } from './translate.ts';
import { mcpToolsOf } from './results.ts';
import { upstreamFailure } from './upstream-failure.ts';

/** The MCP tools offered to the model in this turn, by function name, and what a call needs. */
interface OfferedMcp {
  refs: Map<string, McpFunctionEntry>;
  /** The flags of a call (readOnly, retrySafe) by its server and tool. */
  flags: (serverLabel: string, toolName: string) => { readOnly: boolean; retrySafe: boolean };
}

/** What the model turn gave: its result (the events are already emitted), and the MCP tools it was offered. */
export interface ModelTurn {
  result: TurnResult;
  mcp: OfferedMcp;
  /** MCP calls in the response before this turn (max_tool_calls counts across turns). */
  callsSoFar: number;
}

/**
 * Step 3: the model turn. Its output is translated into events as it arrives; an upstream
 * failure fails the response (with the HTTP answer a synchronous request gives kept beside it).
 */
export async function callModel(turn: Turn, items: ContextItem[], lists: Map<string, McpToolInfo[]>, signal: AbortSignal): Promise<ModelTurn | TurnOutcome> {
  const { deps, job, record, request, writer } = turn;
  const upstream = deps.upstreams.resolve(request.model);
  if (!upstream) return fail(turn, 'server_error', `No upstream is configured for model '${request.model}'.`);
  const offered = mcpFunctions(mcpToolsOf(turn), lists, deps.mcpServers);
  const mcp: OfferedMcp = {
    refs: offered.refs,
    flags: (serverLabel, toolName) => callFlags(offered.refs.get(mcpFunctionName(serverLabel, toolName))?.info.annotations),
  };
  const callsSoFar = writer.snapshot.output.filter((i) => i.type === 'mcp_call').length;
  const maxCalls = request.max_tool_calls ?? Infinity;
  let forced: string | null = null;
  const tc = request.tool_choice;
  if (tc && typeof tc === 'object' && tc.type === 'mcp') {
    // Forcing applies to the first turn only: afterwards the model must be free to answer.
    if (callsSoFar === 0) forced = tc.name ? mcpFunctionName(tc.server_label, tc.name) : ([...mcp.refs.entries()].find(([, r]) => r.serverLabel === tc.server_label)?.[0] ?? null);
  }
  // A forced choice applies to the first model turn of the response; once tools have run, the
  // model must be free to answer, or a "required" loop would only end at the turn limit.
  const toolsRan = callsSoFar > 0;
  const freeChoice = (tc && typeof tc === 'object' && tc.type === 'mcp') || (toolsRan && tc != null && tc !== 'none' && tc !== 'auto');
  const dropParams = new Set(upstream.route.dropParams ?? []);
  const logprobs = wantsLogprobs(request, dropParams);
  const classify = (name: string) => {
    const ref = mcp.refs.get(name);
    return ref ? { ...ref, needsApproval: needsApproval(ref.tool, ref.info, deps.mcpServers[ref.serverLabel]) } : null;
  };
  // Nobody can watch a synchronous response that does not stream before it ends (its id reaches
  // the client with the answer), so its model turns are not streamed either: the same output in
  // one chunk, for less work per turn (bench/findings.md). Everything else streams upstream.
  const watched = request.stream === true || record.background;
  const approvalId = (ref: { serverLabel: string; toolName: string }, args: string) =>
    mintApprovalRequestId(deps.approvalMac, { owner: record.owner, serverLabel: ref.serverLabel, name: ref.toolName, arguments: args }, mcp.flags(ref.serverLabel, ref.toolName), deps.now());
  const translator = new TurnTranslator(
    (e) => writer.emit(e),
    () => writer.snapshot.output.length,
    classify,
    { approvalId, logprobs },
  );
  let result: TurnResult;
  const observed = deps.observe?.upstreamCall({
    route: deps.routeLabel?.(request.model) ?? 'default',
    model: request.model,
    upstreamModel: upstream.model,
    responseId: job.responseId,
    trace: job.trace,
  });
  try {
    await adapterFor(upstream.api).call(
      {
        request: freeChoice ? { ...request, tool_choice: 'auto' } : request,
        upstream,
        items,
        functions: [...(request.tools ?? []).flatMap((t) => (t.type === 'function' ? [functionToolToModel(t)] : [])), ...offered.functions],
        // Only what the route passes through (the API refused the rest); forwarded as the client gave them.
        hostedTools: (request.tools ?? []).filter((t) => t.type !== 'function' && t.type !== 'mcp' && (upstream.route.hostedTools ?? []).includes(t.type)) as ModelCall['hostedTools'],
        forcedFunction: forced,
        toolsExhausted: callsSoFar >= maxCalls,
        dropParams,
        openCompaction: (sealed) => deps.openCompaction?.(record.owner, sealed) ?? '',
        watched,
        logprobs,
        signal,
        onRead: () => observed?.chunk(),
      },
      translator,
    );
    result = translator.finish();
    observed?.done(result.usage, result.finishReason);
  } catch (err) {
    observed?.failed(err);
    if (err instanceof ResponseClosedError || signal.aborted || err instanceof APIUserAbortError) throw err;
    const started = translator.started;
    translator.abandon();
    const f = upstreamFailure(err, started);
    await deps.store.setUpstreamFailure(job.responseId, JSON.stringify(f.http), turn.ttl);
    return fail(turn, f.code, f.message);
  }
  writer.snapshot.usage = addUsage(writer.snapshot.usage, result.usage);
  return { result, mcp, callsSoFar };
}
