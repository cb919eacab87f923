import { APIError, APIUserAbortError } from 'openai';
import { mintApprovalRequestId, StoredInputSchema, StoredRequestSchema, type MacFn, type McpJob, type McpJobResult, type McpSecrets, type SealedResponse, type StoredRequest, type TurnJob, type UpstreamFailure } from '@spool/contracts';
import {
  lifecycleEvent,
  newId,
  type InputItem,
  type McpTool,
  type McpToolInfo,
  type OutputMcpCall,
  type OutputMcpListTools,
  type Response,
  type ResponseErrorCode,
  type ResponseStatus,
  type Usage,
} from '@spool/protocol';
import { ChainError, loadChain, ResponseClosedError, ResponseWriter, type ApprovalStore, type ConversationStore, type ResponseRecord, type ResponseStore, type ToolListCache } from '@spool/redis';
import { retentionSeconds, type McpServerConfig } from '@spool/runtime';
import { completeChat, streamChat, type Upstreams } from '../upstream.ts';
import { conversationContext, endConversationTurn } from './conversation.ts';
import { openElicitations, resumeElicitations } from './elicitation.ts';
import { filterTools, listsInContext, mcpFunctions, needsApproval, serverUrlOf, toolInfos } from './mcp.ts';
import { toChatMessages, type ContextItem } from './messages.ts';
import { buildChatParams, functionToolToModel, wantsLogprobs } from './params.ts';
import { fitContext } from './truncate.ts';
import { mcpFunctionName } from './tool-names.ts';
import type { TurnObserver } from '../observe.ts';
import { completionAsChunk, TurnTranslator, type TurnResult, type UpstreamUsage } from './translate.ts';

export interface TurnDeps {
  store: ResponseStore;
  approvals: ApprovalStore;
  upstreams: Upstreams;
  limits: { retention_seconds: number; ephemeral_retention_seconds: number; max_chain_depth: number; max_turns: number };
  mcpServers: Record<string, McpServerConfig>;
  /** Recent MCP tool listings by server and credentials; null: every response lists on the executor. */
  toolLists: ToolListCache | null;
  /** Opens the MCP credentials sealed in job data (to find their cached listings). */
  openSecrets: (sealed: string) => McpSecrets;
  /** Enqueues the next turn, with MCP jobs as its children when there are any (a BullMQ flow). */
  enqueueNext: (next: TurnJob, children: McpJob[]) => Promise<void>;
  /**
   * Told once a response is sealed by this process: webhooks for background ones, the key's usage.
   * `sealed` is the final state when the sealer has it in hand, so nobody reads it back from Redis.
   */
  onSealed: (responseId: string, status: ResponseStatus, background: boolean, sealed?: SealedResponse) => Promise<void>;
  now: () => number;
  /** The keyed MAC that approval request ids carry (SecretBox.digest), so a stateless client cannot forge one. */
  approvalMac: MacFn;
  /** Opens a compaction item's summary for its owner (runtime/compaction); the API checked it on create. */
  openCompaction?: (owner: string, encryptedContent: string) => string;
  /** Conversations: their items are context, and a finished response is appended to its own. */
  conversations?: ConversationStore | null;
  /** Metrics and spans of the upstream call (observe.ts). */
  observe?: TurnObserver;
  /** The metrics label of a model (its configured route). */
  routeLabel?: (model: string) => string;
}

export type TurnOutcome =
  | { kind: 'finished'; status: ResponseStatus }
  /** Handed over to MCP jobs and the next turn. */
  | { kind: 'waiting'; children: number }
  /** The response was sealed (cancelled) or deleted by someone else; nothing more to do. */
  | { kind: 'closed' }
  | { kind: 'missing' };

export function retentionFor(record: Pick<ResponseRecord, 'store'>, limits: TurnDeps['limits']): number {
  return retentionSeconds(limits, record.store);
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

/** An upstream status a client's own request caused: the synchronous answer keeps it. */
const CLIENT_STATUSES: ReadonlySet<number> = new Set([400, 404, 413, 422]);

/**
 * Maps an upstream failure to a Response `error` (what streams, background responses and polls
 * see: `invalid_prompt` for a 400, `rate_limit_exceeded` for a 429, `server_error` otherwise) and
 * to how a synchronous request answers over HTTP: the upstream's 400/404/413/422 as that status
 * with its message, a 429 with its Retry-After, a 502 for 401/403 (Spool's own credential for the
 * upstream is wrong, not the client's), 5xx and connection failures.
 */
export function upstreamFailure(err: unknown, started: boolean): { code: ResponseErrorCode; message: string; http: UpstreamFailure } {
  if (err instanceof APIError) {
    const status = err.status;
    const body = (err.error ?? {}) as { message?: unknown };
    const detail = (typeof body.message === 'string' && body.message) || err.message || 'no message';
    if (status === undefined) {
      const message = `The upstream model could not be reached${started ? ' mid-stream' : ''}: ${detail}`;
      return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_unreachable', param: null, message, retryAfter: null } };
    }
    if (status === 429) {
      const message = `The upstream model rate-limited the request: ${detail}`;
      const retryAfter = err.headers?.get('retry-after') ?? null;
      return { code: 'rate_limit_exceeded', message, http: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null, message, retryAfter } };
    }
    if (CLIENT_STATUSES.has(status)) {
      const message = `The upstream model refused the request (HTTP ${status}): ${detail}`;
      const http = { status, type: err.type ?? 'invalid_request_error', code: err.code ?? null, param: err.param ?? null, message, retryAfter: null };
      return { code: status === 400 ? 'invalid_prompt' : 'server_error', message, http };
    }
    if (status === 401 || status === 403) {
      const message = `The upstream model refused this server's credentials (HTTP ${status}); check the upstream API key in Spool's configuration: ${detail}`;
      return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_auth_failed', param: null, message, retryAfter: null } };
    }
    const message = `The upstream model failed with HTTP ${status}: ${detail}`;
    return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_error', param: null, message, retryAfter: null } };
  }
  const message = `The upstream model stream failed${started ? ' after output had started' : ''}: ${err instanceof Error ? err.message : String(err)}`;
  return { code: 'server_error', message, http: { status: 502, type: 'server_error', code: 'upstream_error', param: null, message, retryAfter: null } };
}

/** Opens an `mcp_list_tools` item: `output_item.added`, then `mcp_list_tools.in_progress`. */
function openList(writer: ResponseWriter, serverLabel: string): { itemId: string; outputIndex: number } {
  const outputIndex = writer.snapshot.output.length;
  const item: OutputMcpListTools = { type: 'mcp_list_tools', id: newId('mcpl'), server_label: serverLabel, tools: [], error: null };
  writer.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
  writer.emit({ type: 'response.mcp_list_tools.in_progress', item_id: item.id, output_index: outputIndex });
  return { itemId: item.id, outputIndex };
}

/** Closes an `mcp_list_tools` item with the listing: `mcp_list_tools.completed|failed`, then `output_item.done`. */
function closeList(writer: ResponseWriter, outputIndex: number, tools: McpToolInfo[], error: string | null): void {
  const item = writer.snapshot.output[outputIndex];
  if (item?.type !== 'mcp_list_tools') return;
  writer.emit({ type: error ? 'response.mcp_list_tools.failed' : 'response.mcp_list_tools.completed', item_id: item.id, output_index: outputIndex });
  const listed = tools.map((t) => ({ name: t.name, input_schema: t.input_schema, description: t.description ?? null, annotations: t.annotations ?? null }));
  writer.emit({ type: 'response.output_item.done', output_index: outputIndex, item: { ...item, tools: listed, error } });
}

/** Closes an MCP call item with its result: `mcp_call.completed|failed`, then `output_item.done`. */
function closeCall(writer: ResponseWriter, outputIndex: number, result: Pick<OutputMcpCall, 'output' | 'error'>): void {
  const item = writer.snapshot.output[outputIndex];
  if (item?.type !== 'mcp_call') return;
  const failed = result.error !== null;
  writer.emit({ type: failed ? 'response.mcp_call.failed' : 'response.mcp_call.completed', item_id: item.id, output_index: outputIndex });
  writer.emit({
    type: 'response.output_item.done',
    output_index: outputIndex,
    item: { ...item, status: failed ? 'failed' : 'completed', output: result.output, error: result.error },
  });
}

/**
 * One step of one response: take in the results of the MCP jobs it waited for, fetch missing tool
 * lists, call the model, and either end the response or hand MCP calls to the executor with the
 * next turn as their parent. One lifecycle across all steps: one `response.created`, one terminal.
 */
export async function runTurn(deps: TurnDeps, job: TurnJob, childResults: McpJobResult[], signal: AbortSignal): Promise<TurnOutcome> {
  const { responseId, turn } = job;
  const record = await deps.store.get(responseId);
  if (!record) return { kind: 'missing' };
  if (record.sealed) return { kind: 'closed' };
  const request: StoredRequest = StoredRequestSchema.parse(JSON.parse(record.request));
  // Sealed MCP credentials pass from this turn to its MCP jobs and to the next turn.
  const carry = { ...(job.secrets ? { secrets: job.secrets } : {}), ...(job.trace ? { trace: job.trace } : {}) };
  const ttl = retentionFor(record, deps.limits);
  const writer = new ResponseWriter({ store: deps.store, responseId, snapshot: record.snapshot, ttlSeconds: ttl });

  const finishWith = async (status: 'completed' | 'failed' | 'incomplete', patch: Partial<Response>): Promise<TurnOutcome> => {
    const final: Response = { ...structuredClone(writer.snapshot), ...patch, status };
    if (status === 'completed') final.completed_at = deps.now();
    const ok = await writer.finish(lifecycleEvent(`response.${status}`, final), status);
    if (!ok) return { kind: 'closed' };
    await endConversationTurn(deps.conversations, request, record, final, status, deps.limits.retention_seconds);
    await deps.onSealed(responseId, status, record.background, { owner: record.owner, snapshot: final });
    return { kind: 'finished', status };
  };
  const fail = (code: ResponseErrorCode, message: string) => finishWith('failed', { error: { code, message } });

  try {
    if (record.status === 'queued') {
      await writer.setStatus('in_progress', 'response.in_progress');
    }

    // 1. Results of the MCP jobs this turn waited for. A child with no result (it crashed for good,
    //    or an unsafe call was interrupted) fails loudly rather than vanish.
    const mcpTools = (request.tools ?? []).filter((t): t is McpTool => t.type === 'mcp');
    const byItem = new Map(childResults.flatMap((r) => (r.kind === 'call' ? [[r.itemId, r] as const] : [])));
    const byLabel = new Map(childResults.flatMap((r) => (r.kind === 'list' ? [[r.serverLabel, r] as const] : [])));
    const listFailures: string[] = [];
    for (const pending of job.awaiting?.lists ?? []) {
      const result = byLabel.get(pending.serverLabel);
      const tool = mcpTools.find((t) => t.server_label === pending.serverLabel);
      const error = result ? result.error : `Error retrieving tool list from MCP server: '${pending.serverLabel}'. The listing was interrupted.`;
      const tools = result && !error ? filterTools(result.tools, tool?.allowed_tools, deps.mcpServers[pending.serverLabel]) : [];
      closeList(writer, pending.outputIndex, tools, error);
      if (error) listFailures.push(error);
    }
    for (const pending of job.awaiting?.calls ?? []) {
      const result = byItem.get(pending.itemId);
      if (result?.elicitation) continue; // waiting for the user: openElicitations below
      closeCall(
        writer,
        pending.outputIndex,
        result ?? { output: null, error: { type: 'mcp_protocol_error', code: -32001, message: 'The tool call was interrupted before it returned a result.' } },
      );
    }
    if (listFailures.length > 0) return await fail('server_error', listFailures.join(' '));
    // Calls waiting for the user end the response; a follow-up's answer resumes them (elicitation.ts).
    if (openElicitations(writer, job.awaiting?.calls ?? [], byItem)) return await finishWith('completed', {});
    if ((job.elicitations ?? []).length > 0) {
      const { awaiting, children } = resumeElicitations(writer, job, carry);
      await writer.flush(true);
      await deps.enqueueNext({ responseId, turn: turn + 1, ...carry, awaiting }, children);
      return { kind: 'waiting', children: children.length };
    }

    // 1b. Approved calls of a follow-up run first, exactly as parked, with no model inference.
    //     Denied ones run nothing: the model learns of the denial from the input.
    const approved = (job.approvals ?? []).filter((a) => a.approve);
    if (approved.length > 0) {
      const awaiting: NonNullable<TurnJob['awaiting']> = { lists: [], calls: [] };
      const children: McpJob[] = [];
      for (const a of approved) {
        const outputIndex = writer.snapshot.output.length;
        const item: OutputMcpCall = {
          type: 'mcp_call',
          id: newId('mcp'),
          server_label: a.call.serverLabel,
          name: a.call.name,
          arguments: a.call.arguments,
          output: null,
          error: null,
          status: 'in_progress',
          approval_request_id: a.approvalRequestId,
        };
        writer.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
        writer.emit({ type: 'response.mcp_call_arguments.done', item_id: item.id, output_index: outputIndex, arguments: item.arguments });
        writer.emit({ type: 'response.mcp_call.in_progress', item_id: item.id, output_index: outputIndex });
        awaiting.calls.push({ itemId: item.id, outputIndex });
        children.push({
          kind: 'call',
          responseId,
          turn: turn + 1,
          itemId: item.id,
          serverLabel: a.call.serverLabel,
          serverUrl: a.call.serverUrl,
          toolName: a.call.name,
          arguments: a.call.arguments,
          retrySafe: a.call.retrySafe,
          approvalRequestId: a.approvalRequestId,
          readOnly: a.call.readOnly,
          outputIndex,
          ...carry,
        });
      }
      await writer.flush(true);
      await deps.enqueueNext({ responseId, turn: turn + 1, ...carry, awaiting }, children);
      return { kind: 'waiting', children: children.length };
    }
    if (turn >= deps.limits.max_turns) return await fail('server_error', `The response reached the limit of ${deps.limits.max_turns} turns.`);

    let chain: ResponseRecord[] = [];
    if (record.previousResponseId) {
      try {
        // The API decided which unstored records this request may continue (those of its own WebSocket
        // connection); here only ownership is checked again.
        chain = await loadChain(deps.store, record.previousResponseId, record.owner, deps.limits.max_chain_depth, () => true);
      } catch (err) {
        if (err instanceof ChainError) return await fail('server_error', err.message);
        throw err;
      }
    }
    // The context is built once: what is emitted below before the model call (tool lists) is not
    // conversation, and reaches the model through `lists`.
    const items: ContextItem[] = [...(await conversationContext(deps.conversations, request)), ...chain.flatMap(contextOf), ...contextOf({ ...record, snapshot: writer.snapshot })];

    // 2. Tool lists: reuse what the context holds, then recent listings of the same server with the
    //    same credentials (ToolListCache), and fetch the rest on the MCP executor first.
    const lists = listsInContext(items);
    let missing = mcpTools.filter((t) => !lists.has(t.server_label));
    if (missing.length > 0 && deps.toolLists?.enabled) {
      const secrets = job.secrets ? deps.openSecrets(job.secrets) : {};
      const cached = await deps.toolLists.getMany(missing.map((t) => ({ serverLabel: t.server_label, serverUrl: serverUrlOf(t), credentials: secrets[t.server_label] })));
      missing = missing.filter((t, i) => {
        const found = cached[i];
        if (!found) return true;
        const tools = filterTools(found, t.allowed_tools, deps.mcpServers[t.server_label]);
        closeList(writer, openList(writer, t.server_label).outputIndex, tools, null);
        lists.set(t.server_label, toolInfos(tools));
        return false;
      });
    }
    if (missing.length > 0) {
      const awaiting: NonNullable<TurnJob['awaiting']> = { lists: [], calls: [] };
      for (const t of missing) awaiting.lists.push({ serverLabel: t.server_label, ...openList(writer, t.server_label) });
      await writer.flush(true);
      const children: McpJob[] = missing.map((t) => ({
        kind: 'list',
        responseId,
        turn: turn + 1,
        serverLabel: t.server_label,
        serverUrl: serverUrlOf(t),
        ...carry,
      }));
      await deps.enqueueNext({ responseId, turn: turn + 1, ...carry, awaiting }, children);
      return { kind: 'waiting', children: children.length };
    }

    // 3. The model turn.
    const upstream = deps.upstreams.resolve(request.model);
    if (!upstream) return await fail('server_error', `No upstream is configured for model '${request.model}'.`);
    const mcp = mcpFunctions(mcpTools, lists, deps.mcpServers);
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
    const toolsRan = writer.snapshot.output.some((i) => i.type === 'mcp_call');
    const freeChoice = (tc && typeof tc === 'object' && tc.type === 'mcp') || (toolsRan && tc != null && tc !== 'none' && tc !== 'auto');
    const route = upstream.route;
    const dropParams = new Set(route.dropParams ?? []);
    const params = buildChatParams({
      request: freeChoice ? { ...request, tool_choice: 'auto' } : request,
      model: upstream.model,
      maxTokensParam: upstream.maxTokensParam,
      messages: toChatMessages(request.instructions ?? null, items, { reasoningField: route.reasoningFeedback ?? 'none', openCompaction: (sealed) => deps.openCompaction?.(record.owner, sealed) ?? '' }),
      functions: [...(request.tools ?? []).flatMap((t) => (t.type === 'function' ? [functionToolToModel(t)] : [])), ...mcp.functions],
      forcedFunction: forced,
      toolsExhausted: callsSoFar >= maxCalls,
      dropParams,
      sendMetadata: route.sendMetadata ?? false,
    });
    // truncation: "auto" (the API refused it for routes without a context window).
    if (request.truncation === 'auto' && route.contextWindow) {
      params.messages = fitContext(params.messages, { contextWindow: route.contextWindow, reserved: request.max_output_tokens ?? 0, tools: params.tools });
    }

    const classify = (name: string) => {
      const ref = mcp.refs.get(name);
      return ref ? { ...ref, needsApproval: needsApproval(ref.tool, ref.info, deps.mcpServers[ref.serverLabel]) } : null;
    };
    // Nobody can watch a synchronous response that does not stream before it ends (its id reaches
    // the client with the answer), so its model turns are not streamed either: the same output in
    // one chunk, for less work per turn (bench/findings.md). Everything else streams upstream.
    const watched = request.stream === true || record.background;
    const approvalFlags = (serverLabel: string, toolName: string) => {
      const ann = mcp.refs.get(mcpFunctionName(serverLabel, toolName))?.info.annotations ?? {};
      return { readOnly: ann.readOnlyHint === true, retrySafe: ann.readOnlyHint === true || ann.idempotentHint === true };
    };
    const approvalId = (ref: { serverLabel: string; toolName: string }, args: string) =>
      mintApprovalRequestId(deps.approvalMac, { owner: record.owner, serverLabel: ref.serverLabel, name: ref.toolName, arguments: args }, approvalFlags(ref.serverLabel, ref.toolName), deps.now());
    const translator = new TurnTranslator((e) => writer.emit(e), () => writer.snapshot.output.length, classify, { approvalId, logprobs: wantsLogprobs(request, dropParams) });
    let result: TurnResult;
    const observed = deps.observe?.upstreamCall({ route: deps.routeLabel?.(request.model) ?? 'default', model: request.model, upstreamModel: upstream.model, responseId, trace: job.trace });
    try {
      if (watched) {
        await streamChat(
          upstream.client,
          params,
          signal,
          (chunks) => {
            observed?.chunk();
            for (const chunk of chunks) translator.onChunk(chunk);
          },
          upstream.idleTimeoutMs,
        );
      } else {
        const { stream: _stream, stream_options: _options, ...whole } = params;
        translator.onChunk(completionAsChunk(await completeChat(upstream.client, { ...whole, stream: false }, signal)));
      }
      result = translator.finish();
      observed?.done(result.usage, result.finishReason);
    } catch (err) {
      observed?.failed(err);
      if (err instanceof ResponseClosedError || signal.aborted || err instanceof APIUserAbortError) throw err;
      const started = translator.started;
      translator.abandon();
      const f = upstreamFailure(err, started);
      await deps.store.setUpstreamFailure(responseId, JSON.stringify(f.http), ttl);
      return await fail(f.code, f.message);
    }
    writer.snapshot.usage = addUsage(writer.snapshot.usage, result.usage);

    // Approval requests are parked (the whole call, minus credentials) before anyone can see them.
    if (result.approvalRequests.length > 0) {
      await deps.approvals.park(
        responseId,
        result.approvalRequests.map((req) => {
          const ref = mcp.refs.get(mcpFunctionName(req.server_label, req.name));
          return {
            approvalRequestId: req.id,
            responseId,
            owner: record.owner,
            serverLabel: req.server_label,
            serverUrl: ref ? serverUrlOf(ref.tool) : null,
            name: req.name,
            arguments: req.arguments,
            ...approvalFlags(req.server_label, req.name),
          };
        }),
        ttl,
      );
    }

    // 4. MCP calls run on the executor as children of the next turn.
    if (result.mcpCalls.length > 0 && result.finishReason !== 'length') {
      const awaiting: NonNullable<TurnJob['awaiting']> = { lists: [], calls: [] };
      const children: McpJob[] = [];
      let allowed = Math.max(0, maxCalls - callsSoFar);
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
        const annotations = ref.info.annotations ?? {};
        children.push({
          kind: 'call',
          responseId,
          turn: turn + 1,
          itemId: call.id,
          serverLabel: call.server_label,
          serverUrl: serverUrlOf(ref.tool),
          toolName: call.name,
          arguments: call.arguments,
          retrySafe: annotations.readOnlyHint === true || annotations.idempotentHint === true,
          approvalRequestId: null,
          readOnly: annotations.readOnlyHint === true,
          outputIndex,
          ...carry,
        });
      }
      await writer.flush(true);
      // Refused calls are already closed; the model hears about them on the next turn either way.
      await deps.enqueueNext({ responseId, turn: turn + 1, ...carry, awaiting }, children);
      return { kind: 'waiting', children: children.length };
    }

    if (result.finishReason === 'length' || result.finishReason === 'content_filter') {
      return await finishWith('incomplete', { incomplete_details: { reason: result.finishReason === 'length' ? 'max_output_tokens' : 'content_filter' } });
    }
    return await finishWith('completed', {});
  } catch (err) {
    if (err instanceof ResponseClosedError) return { kind: 'closed' };
    if (signal.aborted || err instanceof APIUserAbortError) return { kind: 'closed' };
    throw err;
  }
}
