import { UpstreamFailureSchema, type ElicitationResume, type Keys, type MacFn, type McpSecrets, type ServerToolPolicy, type TurnJob, type UpstreamFailure } from '@spool/contracts';
import {
  ApiError,
  buildResponse,
  conversationIdOf,
  lifecycleEvent,
  newId,
  refuseUnservedParams,
  type CompactedResponse,
  type CompactRequest,
  type CreateResponseRequest,
  type InputItem,
  type Response,
} from '@spool/protocol';
import {
  cancelResponse,
  followEvents,
  responseJsonOf,
  snapshotEvent,
  waitForTerminal,
  type ApprovalStore,
  type LiveHub,
  type LiveSubscription,
  type LogEntry,
  type ResponseRecord,
  type ResponseStore,
} from '@spool/redis';
import { GEN_AI, injectTrace, retentionSeconds, tracer } from '@spool/runtime';
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Admission } from './admission.ts';
import { COMPACTION_PROMPT, estimateTokens, splitTail, summaryOf } from './compaction.ts';
import { pageInputItems, type InputItemsPage, type InputItemsQuery } from './input-items.ts';
import { ApprovalAnswers } from './approval-answers.ts';
import type { ElicitationAnswers } from './elicitations.ts';
import { checkBounds, checkCallOutputs, checkCompactions, checkModelName, normalizeInput } from './create-input.ts';
import { splitMcpTools } from './mcp-tools.ts';
import { previousChain } from './previous-chain.ts';

export interface ResponsesServiceDeps {
  store: ResponseStore;
  approvals: ApprovalStore;
  /** Answers to parked MCP elicitations (elicitations.ts); absent: mcp_elicitation_response is refused. */
  elicitations?: ElicitationAnswers;
  hub: LiveHub;
  keys: Keys;
  enqueueTurn: (job: TurnJob) => Promise<void>;
  /** Labels of the MCP servers in the configuration. */
  configuredMcpServers: ReadonlySet<string>;
  /** The configured servers' tool policies by label (allowed_tools, disallowed_tools, require_approval). */
  mcpServerPolicies: Record<string, ServerToolPolicy>;
  /** The keyed MAC approval request ids carry (SecretBox.digest, the key every process shares). */
  approvalMac: MacFn;
  /** Seals MCP credentials for job data. */
  sealSecrets: (value: McpSecrets) => string;
  /** True when some upstream serves this model. */
  hasModel: (model: string) => boolean;
  /** The serving route's `drop_params` and `context_window` (absent: none dropped, no window). */
  routeOptions?: (model: string) => { dropParams: readonly string[]; contextWindow: number | null; api?: 'chat' | 'responses'; hostedTools?: readonly string[] };
  limits: {
    retention_seconds: number;
    ephemeral_retention_seconds: number;
    max_chain_depth: number;
    max_input_items: number;
    max_tools: number;
    keepalive_ms: number;
    max_instructions_chars: number;
    /** How long a synchronous request waits for its response (then 504, and the response is cancelled). */
    sync_timeout_ms?: number;
    /** Longest model name accepted (route globs are matched against it). */
    max_model_length?: number;
  };
  now: () => number;
  /**
   * Removes the not-yet-started queued jobs of a cancelled response (best effort: a job that
   * starts anyway finds the response sealed and does nothing).
   */
  removeQueuedTurns?: (responseId: string) => Promise<void>;
  /** Seals a compaction summary for its owner (runtime/compaction, the shared SecretBox). */
  sealCompaction?: (owner: string, summary: string) => string;
  /** Opens one, throwing InvalidCompactionError: a compaction item in an input is checked on create. */
  openCompaction?: (owner: string, encryptedContent: string) => string;
  /** Conversations, for `conversation` on create; absent: the parameter is refused. */
  conversations?: ConversationTurns;
  /** Per-key limits and the backlog bound, checked before anything is written (admission.ts). */
  admission?: Pick<Admission, 'admit' | 'release'>;
  /** Told of every response created (the console's index). */
  onCreated?: (responseId: string) => Promise<void>;
  /** Told when this service sealed a response (the `response.cancelled` webhook). */
  onSealed?: (responseId: string, status: 'cancelled', background: boolean) => Promise<void>;
}

/** What a response needs of a conversation: take it, give it back, append to it (ConversationsService). */
interface ConversationTurns {
  claim(conversationId: string, owner: string, responseId: string): Promise<void>;
  release(conversationId: string, responseId: string): Promise<void>;
  appendTurn(conversationId: string, responseId: string, items: InputItem[]): Promise<void>;
}

export interface Created {
  id: string;
  response: Response;
  /**
   * With `watch`: the response's live channel, subscribed before its first job was enqueued, so
   * a reader of it misses nothing and needs no first read of the log. Hand it to `follow` or
   * `waitForFinal` (they close it).
   */
  subscription: Watch | null;
  /** `x-ratelimit-*` headers for the answer (empty when the key has no limits). */
  headers?: Record<string, string>;
}

/** A subscription to a response's live channel, opened by `create` (routes only pass it on). */
export type Watch = LiveSubscription;

/** How a synchronous response ended: its final Response as JSON, ready to send. */
export interface FinalResponse {
  json: string;
  /** The terminal event's type; null when it was sealed without one (cancelled). */
  type: string | null;
}

/**
 * A synchronous request that outlived `limits.sync_timeout_ms`: a 504 whose message names the
 * response (now cancelled) and says what to do instead. Routes send it with `x-should-retry:
 * false`: the SDK's automatic retry would only run the same long work again.
 */
export class SyncTimeoutError extends ApiError {
  constructor(
    readonly responseId: string,
    timeoutMs: number,
  ) {
    super(
      504,
      `The response '${responseId}' did not finish within ${timeoutMs} ms, the limit for a synchronous request (limits.sync_timeout_ms); it was cancelled. Use background: true (and poll) or stream: true for long work.`,
      'server_error',
      'timeout',
    );
  }
}

/** The job's trace context, when a tracer SDK is installed (without one the carrier is empty). */
function traceField(span: Span): { trace?: Record<string, string> } {
  const trace = injectTrace(span);
  return Object.keys(trace).length > 0 ? { trace } : {};
}

/**
 * The responses use cases, free of HTTP: routes parse and format, this decides. It never calls a
 * model: it writes the record, enqueues the first turn, and reads the event log.
 */
export class ResponsesService {
  private readonly answers: ApprovalAnswers;

  constructor(private readonly d: ResponsesServiceDeps) {
    this.answers = new ApprovalAnswers({
      approvals: d.approvals,
      approvalMac: d.approvalMac,
      mcpServerPolicies: d.mcpServerPolicies,
      validitySeconds: d.limits.retention_seconds,
      now: d.now,
    });
  }

  /**
   * `generate: false` (WebSocket warm-up) validates and stores the request and seals it as
   * completed with no output and no model call. `connectionResponses`: the `store: false` response
   * ids a WebSocket connection created, which it (and only it) may continue.
   */
  async create(request: CreateResponseRequest, owner: string, opts: { watch?: boolean; generate?: boolean; connectionResponses?: ReadonlySet<string> } = {}): Promise<Created> {
    const { limits } = this.d;
    checkModelName(request.model, limits);
    if (!this.d.hasModel(request.model)) {
      throw new ApiError(400, `The model '${request.model}' is not served here: no configured upstream matches it.`, 'invalid_request_error', 'model_not_found', 'model');
    }
    const route = this.d.routeOptions?.(request.model) ?? { dropParams: [], contextWindow: null };
    refuseUnservedParams(request, new Set(route.dropParams), route.contextWindow, route.api ?? 'chat', route.hostedTools ?? []);
    if (request.context_management?.[0]?.compact_threshold) return this.createCompacted(request, owner, opts, request.context_management[0].compact_threshold);
    const input = normalizeInput(request.input);
    checkCompactions(input, owner, this.d.openCompaction);
    checkBounds(request, input, limits);
    // background with store: false is accepted: kept only as long as a poll needs (ephemeral retention).

    const conversationId = conversationIdOf(request.conversation);
    if (conversationId !== null) {
      if (request.previous_response_id) {
        throw ApiError.badRequest("Mutually exclusive parameters: send either 'previous_response_id' or 'conversation', not both.", 'conversation', 'mutually_exclusive_parameters');
      }
      if (!this.d.conversations) throw ApiError.badRequest('The conversation parameter is not supported by this server; use previous_response_id.', 'conversation', 'unsupported_parameter');
    }

    const chain = await previousChain(this.d.store, request, owner, limits.max_chain_depth, opts.connectionResponses);
    checkCallOutputs(chain, input);

    const mcp = splitMcpTools(request.tools, this.d.configuredMcpServers);
    const id = newId('resp');
    const background = request.background ?? false;
    const span = tracer.startSpan(`create_response ${request.model}`, {
      kind: SpanKind.SERVER,
      attributes: { [GEN_AI.operation]: 'create_response', [GEN_AI.requestModel]: request.model, [GEN_AI.responseId]: id, 'spool.background': background },
    });
    try {
      return await this.createTraced(id, request, owner, input, chain, mcp, background, conversationId, span, opts);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  }

  private async createTraced(
    id: string,
    request: CreateResponseRequest,
    owner: string,
    input: InputItem[],
    chain: ResponseRecord[],
    mcp: ReturnType<typeof splitMcpTools>,
    background: boolean,
    conversationId: string | null,
    span: Span,
    opts: { watch?: boolean; generate?: boolean },
  ): Promise<Created> {
    const { limits } = this.d;
    const { decisions, taken } = await this.answers.resolve(id, owner, request, input, chain);
    const resumes = await this.resolveElicitations(id, owner, request, input, chain, taken);
    let admitted: Awaited<ReturnType<Admission['admit']>> = { headers: {} };
    try {
      admitted = (await this.d.admission?.admit({ owner, responseId: id, background })) ?? admitted;
    } catch (err) {
      await this.d.elicitations?.giveBack(id, resumes);
      await this.answers.giveBack(id, taken);
      throw err;
    }
    const response = buildResponse({ id, request, createdAt: this.d.now(), status: background ? 'queued' : 'in_progress' });
    if (conversationId !== null) response.conversation = { id: conversationId };
    const { input: _input, ...rest } = request;
    // The conversation is stored as its id: the worker reads its items as context.
    const stored = { ...rest, tools: mcp.tools, ...(conversationId !== null ? { conversation: conversationId } : {}) };
    const events = [snapshotEvent('response.created'), snapshotEvent(background ? 'response.queued' : 'response.in_progress')];
    const storeIt = request.store ?? true;
    const subscription = opts.watch ? this.d.hub.open(this.d.keys.channel(id)) : null;
    try {
      // One response at a time per conversation; a refusal here gives back the approvals taken above.
      if (conversationId !== null) await this.d.conversations?.claim(conversationId, owner, id);
      // The subscription is confirmed before the job exists, so nothing it publishes can be missed.
      await Promise.all([
        subscription?.ready,
        this.d.store.create({
          id,
          owner,
          snapshot: response,
          request: JSON.stringify(stored),
          input: JSON.stringify(input),
          previousResponseId: request.previous_response_id ?? null,
          store: storeIt,
          background,
          events,
          ttlSeconds: retentionSeconds(limits, storeIt),
        }),
      ]);
      if (opts.generate === false) {
        const done: Response = { ...response, status: 'completed', completed_at: this.d.now() };
        await this.d.store.append(id, [lifecycleEvent('response.completed', done)], { snapshot: done, status: 'completed', seal: true, ttlSeconds: retentionSeconds(limits, storeIt) });
        if (conversationId !== null) await this.d.conversations?.appendTurn(conversationId, id, input);
        // Sealed here, not by a worker: its in-flight slot is given back here too.
        await this.d.admission?.release(owner, id).catch(() => undefined);
        return { id, response: done, subscription };
      }
      await this.d.enqueueTurn({
        responseId: id,
        turn: 0,
        ...(mcp.secrets ? { secrets: this.d.sealSecrets(mcp.secrets) } : {}),
        ...(decisions.length > 0 ? { approvals: decisions } : {}),
        ...(chain.length > 0 ? { chain: chain.map((r) => r.id) } : {}),
        ...(resumes.length > 0 ? { elicitations: resumes } : {}),
        ...traceField(span),
      });
    } catch (err) {
      subscription?.close();
      if (conversationId !== null) await this.d.conversations?.release(conversationId, id).catch(() => undefined);
      await this.d.admission?.release(owner, id).catch(() => undefined);
      await this.d.elicitations?.giveBack(id, resumes);
      await this.answers.giveBack(id, taken);
      // Acknowledge nothing we cannot run: the record is removed and the client sees a 503.
      await this.d.store.delete(id).catch(() => undefined);
      throw err;
    }
    // The console's index: not on the answer's path (a lost entry only hides it from the list).
    void this.d.onCreated?.(id).catch(() => undefined);
    return { id, response, subscription, headers: admitted.headers };
  }

  /**
   * `POST /v1/responses/compact`: the routed model summarises the context (the
   * previous_response_id chain, then `input`) in an ordinary, unstored turn job; the summary is
   * sealed into a `compaction` item and the job's response is removed, so no plain copy stays.
   */
  async compact(req: CompactRequest, owner: string, signal?: AbortSignal): Promise<CompactedResponse | null> {
    if (!this.d.sealCompaction) throw ApiError.notFound('Compaction is not served here.');
    const input = typeof req.input === 'string' ? normalizeInput(req.input) : (req.input ?? []);
    const created = await this.create(
      {
        model: req.model,
        input: [...input, { type: 'message', role: 'user', content: COMPACTION_PROMPT }],
        store: false,
        ...(req.previous_response_id ? { previous_response_id: req.previous_response_id } : {}),
        ...(req.instructions ? { instructions: req.instructions } : {}),
        ...(req.prompt_cache_key ? { prompt_cache_key: req.prompt_cache_key } : {}),
      },
      owner,
      { watch: true },
    );
    const final = await this.waitForFinal(created.id, signal, created.subscription);
    if (!final) return null;
    const response = JSON.parse(final.json) as Response;
    await this.d.store.delete(created.id).catch(() => undefined);
    if (response.status !== 'completed') {
      const reason = response.error?.message ?? response.incomplete_details?.reason ?? response.status;
      throw new ApiError(502, `The model could not write the compaction summary: ${reason}`, 'server_error', response.error?.code ?? 'compaction_failed');
    }
    return {
      id: created.id,
      object: 'response.compaction',
      created_at: response.created_at,
      output: [{ type: 'compaction', id: newId('cmp'), encrypted_content: this.d.sealCompaction(owner, summaryOf(response)), created_by: 'spool' }],
      usage: response.usage ?? { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
    };
  }

  /**
   * `context_management: [{type: 'compaction', compact_threshold}]`: when the context (chain and
   * input) is estimated above the threshold, everything but the trailing user messages is
   * compacted first, and the response runs on the compaction item and those messages (so it has
   * no previous_response_id of its own). Below the threshold it is an ordinary create.
   */
  private async createCompacted(request: CreateResponseRequest, owner: string, opts: Parameters<ResponsesService['create']>[2], threshold: number): Promise<Created> {
    const { context_management: _cm, ...plain } = request;
    const input = normalizeInput(request.input);
    // A chain that cannot be read here is refused by the create that follows, with its reason.
    const chain = await previousChain(this.d.store, request, owner, this.d.limits.max_chain_depth, opts?.connectionResponses).catch(() => []);
    const context = [...chain.flatMap((r) => [...(JSON.parse(r.input) as unknown[]), ...r.snapshot.output]), ...input];
    if (estimateTokens(request.instructions, context) <= threshold) return this.create(plain, owner, opts);
    const { head, tail } = splitTail(input);
    if (head.length === 0 && chain.length === 0) return this.create(plain, owner, opts);
    const compacted = await this.compact({ model: request.model, input: head, ...(request.previous_response_id ? { previous_response_id: request.previous_response_id } : {}) }, owner);
    const item = compacted?.output[0];
    if (!item) throw new ApiError(503, 'The context could not be compacted in time.', 'service_unavailable', 'compaction_failed');
    const { previous_response_id: _prev, ...rest } = plain;
    return this.create({ ...rest, input: [{ type: 'compaction', id: item.id, encrypted_content: item.encrypted_content }, ...tail] }, owner, opts);
  }

  /** The `mcp_elicitation_response` items, checked and claimed (elicitations.ts); a refusal gives back the approvals taken. */
  private async resolveElicitations(
    id: string,
    owner: string,
    request: CreateResponseRequest,
    input: InputItem[],
    chain: ResponseRecord[],
    taken: Parameters<ApprovalAnswers['giveBack']>[1],
  ): Promise<ElicitationResume[]> {
    if (!input.some((i) => i.type === 'mcp_elicitation_response')) return [];
    try {
      if (!this.d.elicitations) throw ApiError.badRequest('mcp_elicitation_response is not supported by this server.', 'input', 'unsupported_input_type');
      return await this.d.elicitations.resolve(id, owner, request, input, chain);
    } catch (err) {
      await this.answers.giveBack(id, taken);
      throw err;
    }
  }

  /** The record if `owner` may see it, else a 404 (never a 403: ids of others do not exist). */
  async getVisible(id: string, owner: string): Promise<ResponseRecord> {
    const record = await this.d.store.get(id);
    if (!record || record.owner !== owner || (!record.store && !record.background)) throw ApiError.responseNotFound(id);
    return record;
  }

  /**
   * Waits until the response is sealed and returns its final state, or null when `signal` fired
   * first (the client went away). Pass the subscription `create` opened, if any.
   *
   * A synchronous request never waits for ever: past `limits.sync_timeout_ms` the response is
   * cancelled (so no work runs on for nobody; its id stays readable) and a 504 SyncTimeoutError
   * says so. A completion that wins that race is returned as usual.
   */
  async waitForFinal(id: string, signal?: AbortSignal, subscription?: Watch | null): Promise<FinalResponse | null> {
    const timeoutMs = this.d.limits.sync_timeout_ms ?? 600_000;
    // One timer, cleared when the wait ends (AbortSignal.timeout would keep each for the full
    // deadline, however soon its request finished), and the client's signal forwarded to it.
    const stop = new AbortController();
    const onClientGone = () => stop.abort();
    signal?.addEventListener('abort', onClientGone, { once: true });
    if (signal?.aborted) stop.abort();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop.abort();
    }, timeoutMs);
    let state;
    try {
      state = await waitForTerminal({
        store: this.d.store,
        hub: this.d.hub,
        keys: this.d.keys,
        responseId: id,
        pollIntervalMs: this.d.limits.keepalive_ms,
        signal: stop.signal,
        ...(subscription ? { subscription } : {}),
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onClientGone);
    }
    if (state.kind === 'aborted' && timedOut && !signal?.aborted) {
      const record = await this.d.store.get(id);
      if (!record) throw ApiError.responseNotFound(id);
      const final = record.sealed ? record.snapshot : await this.stop(record);
      if (final.status !== 'cancelled') return { json: JSON.stringify(final), type: `response.${final.status}` };
      throw new SyncTimeoutError(id, timeoutMs);
    }
    if (state.kind === 'aborted') return null;
    if (state.kind === 'missing') throw ApiError.responseNotFound(id);
    if (state.kind === 'snapshot') return { json: state.json, type: null };
    return { json: responseJsonOf(state.json), type: state.type };
  }

  /**
   * How the upstream failure that failed this response reads over HTTP (kept by the worker), or
   * null when it failed for another reason. Synchronous requests answer with it.
   */
  async upstreamFailureOf(id: string): Promise<UpstreamFailure | null> {
    const raw = await this.d.store.upstreamFailure(id);
    if (raw === null) return null;
    const parsed = UpstreamFailureSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  /** Replays the log after `after` and follows it until the response is sealed. */
  follow(id: string, after: number, onEvent: (e: LogEntry) => void, signal: AbortSignal, subscription?: Watch | null) {
    return followEvents({
      store: this.d.store,
      hub: this.d.hub,
      keys: this.d.keys,
      responseId: id,
      after,
      onEvent,
      signal,
      pollIntervalMs: this.d.limits.keepalive_ms,
      ...(subscription ? { subscription } : {}),
    });
  }

  /**
   * `POST /v1/responses/{id}/cancel`. Only background responses can be cancelled (as in the
   * OpenAI API). A queued or running one is sealed as `cancelled`; one that is already terminal,
   * including one whose completion won the race, is returned unchanged with 200, so repeating a
   * cancel is harmless (never a 409, which the SDK would retry).
   */
  async cancel(id: string, owner: string): Promise<Response> {
    const record = await this.getVisible(id, owner);
    if (!record.background) throw ApiError.badRequest('Cannot cancel a synchronous response.', null, null);
    if (record.sealed) return record.snapshot;
    return this.stop(record);
  }

  /**
   * `DELETE /v1/responses/{id}`: the record and its event log go. A response still running is
   * cancelled first, so its worker stops and its open streams end, before the keys are removed.
   */
  async delete(id: string, owner: string): Promise<{ id: string; object: 'response.deleted'; deleted: true }> {
    const record = await this.getVisible(id, owner);
    if (!record.sealed) await this.stop(record);
    // The calls it parked go too: nobody can approve them any more.
    await Promise.all([this.d.store.delete(id), this.d.approvals.drop(id)]);
    return { id, object: 'response.deleted', deleted: true };
  }

  /** `GET /v1/responses/{id}/input_items`: a page of the response's own input items. */
  async listInputItems(id: string, owner: string, query: InputItemsQuery): Promise<InputItemsPage> {
    const record = await this.getVisible(id, owner);
    return pageInputItems(JSON.parse(record.input) as InputItem[], query);
  }

  /** Seals a running response as cancelled (or returns how it ended) and drops its queued jobs. */
  private async stop(record: ResponseRecord): Promise<Response> {
    const ttl = retentionSeconds(this.d.limits, record.store);
    const outcome = await cancelResponse(this.d.store, record.id, ttl);
    if (outcome.kind === 'gone') throw ApiError.responseNotFound(record.id);
    if (outcome.kind === 'cancelled') {
      await this.d.removeQueuedTurns?.(record.id).catch(() => undefined);
      await this.d.onSealed?.(record.id, 'cancelled', record.background);
    }
    return outcome.snapshot;
  }
}
