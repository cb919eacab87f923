import { checkCall, verifyApprovalRequestId, type ApprovalDecision, type Keys, type MacFn, type ServerToolPolicy, type TurnJob } from '@spool/contracts';
import {
  ApiError,
  buildResponse,
  newId,
  type CreateResponseRequest,
  type InputItem,
  type Response,
} from '@spool/protocol';
import {
  cancelResponse,
  ChainError,
  followEvents,
  loadChain,
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
import { pageInputItems, type InputItemsPage, type InputItemsQuery } from './input-items.ts';

export interface ResponsesServiceDeps {
  store: ResponseStore;
  approvals: ApprovalStore;
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
  limits: {
    retention_seconds: number;
    ephemeral_retention_seconds: number;
    max_chain_depth: number;
    max_input_items: number;
    max_tools: number;
    keepalive_ms: number;
    max_instructions_chars: number;
  };
  now: () => number;
  /**
   * Removes the not-yet-started queued jobs of a cancelled response (best effort: a job that
   * starts anyway finds the response sealed and does nothing).
   */
  removeQueuedTurns?: (responseId: string) => Promise<void>;
  /** Per-key limits and the backlog bound, checked before anything is written (admission.ts). */
  admission?: Pick<Admission, 'admit' | 'release'>;
  /** Told of every response created (the console's index). */
  onCreated?: (responseId: string) => Promise<void>;
  /** Told when this service sealed a response (the `response.cancelled` webhook). */
  onSealed?: (responseId: string, status: 'cancelled', background: boolean) => Promise<void>;
}

/** MCP credentials by server label: they travel sealed in job data, never in the record. */
export type McpSecrets = Record<string, { headers?: Record<string, string>; authorization?: string }>;

/**
 * Checks MCP tool definitions and takes their credentials out: what is stored has no headers and
 * no authorization; the credentials go to the job, sealed.
 */
export function splitMcpTools(
  tools: CreateResponseRequest['tools'],
  configured: ReadonlySet<string>,
): { tools: CreateResponseRequest['tools']; secrets: McpSecrets | null } {
  if (!tools) return { tools, secrets: null };
  const secrets: McpSecrets = {};
  const labels = new Set<string>();
  const stripped = tools.map((tool, i) => {
    if (tool.type !== 'mcp') return tool;
    if (labels.has(tool.server_label)) throw ApiError.badRequest(`Duplicate MCP server_label '${tool.server_label}'.`, `tools[${i}].server_label`);
    labels.add(tool.server_label);
    if (tool.connector_id) throw ApiError.badRequest('MCP connectors (connector_id) are not supported by this server; give a server_url.', `tools[${i}].connector_id`, 'unsupported_parameter');
    const url = tool.server_url;
    if (!url || url === 'litellm_proxy') {
      if (!configured.has(tool.server_label)) {
        throw ApiError.badRequest(
          `MCP server '${tool.server_label}' is not configured on this server: give a server_url, or configure it under mcp_servers.`,
          `tools[${i}].server_url`,
          'mcp_server_not_found',
        );
      }
    } else {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw ApiError.badRequest(`Invalid MCP server_url '${url}'.`, `tools[${i}].server_url`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw ApiError.badRequest('MCP server_url must be an http or https URL (stdio servers exist only in the configuration).', `tools[${i}].server_url`);
      }
    }
    if (tool.headers || tool.authorization) {
      secrets[tool.server_label] = { ...(tool.headers ? { headers: tool.headers } : {}), ...(tool.authorization ? { authorization: tool.authorization } : {}) };
    }
    const { headers: _h, authorization: _a, ...rest } = tool;
    return rest;
  });
  return { tools: stripped, secrets: Object.keys(secrets).length > 0 ? secrets : null };
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

/** The job's trace context, when a tracer SDK is installed (without one the carrier is empty). */
function traceField(span: Span): { trace?: Record<string, string> } {
  const trace = injectTrace(span);
  return Object.keys(trace).length > 0 ? { trace } : {};
}

/** Gives every input item an id (input_items lists them, and the SDK pages by id). */
export function normalizeInput(input: CreateResponseRequest['input']): InputItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') {
    return [{ type: 'message', id: newId('msg'), role: 'user', content: [{ type: 'input_text', text: input }] }];
  }
  return input.map((item) => {
    if (item.type === 'message') {
      const content = typeof item.content === 'string' ? [{ type: 'input_text' as const, text: item.content }] : item.content;
      return { ...item, id: item.id ?? newId('msg'), content };
    }
    if (item.type === 'function_call') return { ...item, id: item.id ?? newId('fc') };
    if (item.type === 'function_call_output') return { ...item, id: item.id ?? newId('fco') };
    if (item.type === 'mcp_approval_response') return { ...item, id: item.id ?? newId('mcpa') };
    return item;
  });
}

/** Call ids a function_call_output may answer: function calls in the chain and in this input. */
function knownCallIds(chain: ResponseRecord[], input: InputItem[]): Set<string> {
  const ids = new Set<string>();
  for (const r of chain) {
    for (const item of r.snapshot.output) if (item.type === 'function_call') ids.add(item.call_id);
    for (const item of JSON.parse(r.input) as InputItem[]) if (item.type === 'function_call') ids.add(item.call_id);
  }
  for (const item of input) if (item.type === 'function_call') ids.add(item.call_id);
  return ids;
}

/**
 * The responses use cases, free of HTTP: routes parse and format, this decides. It never calls a
 * model: it writes the record, enqueues the first turn, and reads the event log.
 */
export class ResponsesService {
  constructor(private readonly d: ResponsesServiceDeps) {}

  async create(request: CreateResponseRequest, owner: string, opts: { watch?: boolean } = {}): Promise<Created> {
    const { limits } = this.d;
    if (!this.d.hasModel(request.model)) {
      throw new ApiError(400, `The model '${request.model}' is not served here: no configured upstream matches it.`, 'invalid_request_error', 'model_not_found', 'model');
    }
    const input = normalizeInput(request.input);
    if (input.length > limits.max_input_items) throw ApiError.badRequest(`Too many input items: at most ${limits.max_input_items}.`, 'input', 'too_many_items');
    if (request.instructions && request.instructions.length > limits.max_instructions_chars) {
      throw ApiError.badRequest(`'instructions' is too long: ${request.instructions.length} characters, at most ${limits.max_instructions_chars}.`, 'instructions', 'string_above_max_length');
    }
    if ((request.tools?.length ?? 0) > limits.max_tools) throw ApiError.badRequest(`Too many tools: at most ${limits.max_tools}.`, 'tools', 'too_many_tools');
    if (request.background && request.store === false) {
      // Accepted: kept only as long as a poll needs (ephemeral retention), documented in the README.
    }

    let chain: ResponseRecord[] = [];
    if (request.previous_response_id) {
      try {
        chain = await loadChain(this.d.store, request.previous_response_id, owner, limits.max_chain_depth);
      } catch (err) {
        if (err instanceof ChainError && err.code === 'previous_response_not_found') {
          throw new ApiError(400, `Previous response with id '${request.previous_response_id}' not found.`, 'invalid_request_error', 'previous_response_not_found', 'previous_response_id');
        }
        if (err instanceof ChainError) throw ApiError.badRequest(err.message, 'previous_response_id', err.code);
        throw err;
      }
      const last = chain[chain.length - 1];
      if (last && (last.status === 'queued' || last.status === 'in_progress')) {
        throw ApiError.badRequest(`Previous response with id '${last.id}' is still ${last.status}; wait until it finishes.`, 'previous_response_id', 'previous_response_in_progress');
      }
    }
    const callIds = knownCallIds(chain, input);
    input.forEach((item, i) => {
      if (item.type === 'function_call_output' && !callIds.has(item.call_id)) {
        throw ApiError.badRequest(`No tool call found for function call output with call_id '${item.call_id}'.`, `input[${i}].call_id`, 'invalid_value');
      }
    });

    const mcp = splitMcpTools(request.tools, this.d.configuredMcpServers);
    const id = newId('resp');
    const background = request.background ?? false;
    const span = tracer.startSpan(`create_response ${request.model}`, {
      kind: SpanKind.SERVER,
      attributes: { [GEN_AI.operation]: 'create_response', [GEN_AI.requestModel]: request.model, [GEN_AI.responseId]: id, 'spool.background': background },
    });
    try {
      return await this.createTraced(id, request, owner, input, chain, mcp, background, span, opts);
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
    span: Span,
    opts: { watch?: boolean },
  ): Promise<Created> {
    const { limits } = this.d;
    const decisions = await this.resolveApprovals(id, owner, request, input, chain);
    let admitted: Awaited<ReturnType<Admission['admit']>> = { headers: {} };
    try {
      admitted = (await this.d.admission?.admit({ owner, responseId: id, background })) ?? admitted;
    } catch (err) {
      await this.giveBack(
        id,
        decisions.flatMap((d) => (d.heldBy ? [{ holder: d.heldBy, id: d.decision.approvalRequestId }] : [])),
        decisions.map((d) => d.decision.approvalRequestId),
      );
      throw err;
    }
    const response = buildResponse({ id, request, createdAt: this.d.now(), status: background ? 'queued' : 'in_progress' });
    const { input: _input, ...rest } = request;
    const stored = { ...rest, tools: mcp.tools };
    const events = [snapshotEvent('response.created'), snapshotEvent(background ? 'response.queued' : 'response.in_progress')];
    const storeIt = request.store ?? true;
    const subscription = opts.watch ? this.d.hub.open(this.d.keys.channel(id)) : null;
    try {
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
      await this.d.enqueueTurn({
        responseId: id,
        turn: 0,
        ...(mcp.secrets ? { secrets: this.d.sealSecrets(mcp.secrets) } : {}),
        ...(decisions.length > 0 ? { approvals: decisions.map((d) => d.decision) } : {}),
        ...traceField(span),
      });
    } catch (err) {
      subscription?.close();
      await this.d.admission?.release(owner, id).catch(() => undefined);
      await this.giveBack(
        id,
        decisions.flatMap((d) => (d.heldBy ? [{ holder: d.heldBy, id: d.decision.approvalRequestId }] : [])),
        decisions.map((d) => d.decision.approvalRequestId),
      );
      // Acknowledge nothing we cannot run: the record is removed and the client sees a 503.
      await this.d.store.delete(id).catch(() => undefined);
      throw err;
    }
    // The console's index: not on the answer's path (a lost entry only hides it from the list).
    void this.d.onCreated?.(id).catch(() => undefined);
    return { id, response, subscription, headers: admitted.headers };
  }

  /**
   * Matches each `mcp_approval_response` to its request in the previous_response_id chain (or, for
   * stateless `store: false` clients, in this input) and takes it exactly once. A parked call is
   * claimed; a stateless one must carry an id Spool minted for this owner, server, tool and
   * arguments (contracts/approval-ids). Either way the id is marked used for the retention, so no
   * path can answer it twice, and an approved call must pass the tool policy of this request and
   * of the configured server. Any refusal gives back what this request had already taken.
   */
  private async resolveApprovals(
    claimant: string,
    owner: string,
    request: CreateResponseRequest,
    input: InputItem[],
    chain: ResponseRecord[],
  ): Promise<Array<{ decision: ApprovalDecision; heldBy: string | null }>> {
    const answers = input.flatMap((item, i) => (item.type === 'mcp_approval_response' ? [{ item, i }] : []));
    if (answers.length === 0) return [];
    const stored = new Map<string, { holder: string; req: { server_label: string; name: string; arguments: string } }>();
    for (const r of chain) for (const o of r.snapshot.output) if (o.type === 'mcp_approval_request') stored.set(o.id, { holder: r.id, req: o });
    const inline = new Map(input.flatMap((o) => (o.type === 'mcp_approval_request' ? [[o.id, o] as const] : [])));
    const out: Array<{ decision: ApprovalDecision; heldBy: string | null }> = [];
    const claimed: Array<{ holder: string; id: string }> = [];
    const marked: string[] = [];
    const seen = new Set<string>();
    const { retention_seconds: validity } = this.d.limits;
    try {
      for (const { item, i } of answers) {
        const param = `input[${i}].approval_request_id`;
        const id = item.approval_request_id;
        if (seen.has(id)) throw ApiError.badRequest(`Approval request '${id}' is answered more than once in this input.`, param);
        seen.add(id);
        const found = stored.get(id);
        const req = found?.req ?? inline.get(id);
        if (!req) {
          throw ApiError.badRequest(
            `No mcp_approval_request with id '${id}' was found in the previous_response_id chain${request.store === false ? ' or in the input' : ''}.`,
            param,
            'approval_request_not_found',
          );
        }
        const tool = (request.tools ?? []).find((t) => t.type === 'mcp' && t.server_label === req.server_label);
        if (!tool || tool.type !== 'mcp') {
          throw ApiError.badRequest(
            `Approval request '${id}' is for MCP server '${req.server_label}', which is not in this request's tools. Resend the MCP tool (with its credentials) with the approval response.`,
            'tools',
            'approval_server_mismatch',
          );
        }
        const serverUrl = tool.server_url && tool.server_url !== 'litellm_proxy' ? tool.server_url : null;
        let call: ApprovalDecision['call'];
        if (found) {
          const claim = await this.d.approvals.claim(found.holder, id, claimant);
          if (claim.kind === 'used') throw ApiError.badRequest(`Approval request '${id}' was already used (by response '${claim.by}').`, param, 'approval_already_used');
          if (claim.kind === 'missing') throw ApiError.badRequest(`Approval request '${id}' has expired.`, param, 'approval_expired');
          claimed.push({ holder: found.holder, id });
          if (claim.parked.serverLabel !== req.server_label) throw ApiError.badRequest(`Approval request '${id}' does not match its server label.`, param, 'approval_server_mismatch');
          const { owner: _o, responseId: _r, ...parked } = claim.parked;
          call = parked;
        } else {
          // Stateless: nothing was parked, so the item itself must prove Spool issued it.
          const check = verifyApprovalRequestId(this.d.approvalMac, id, { owner, serverLabel: req.server_label, name: req.name, arguments: req.arguments });
          if (!check.ok) {
            throw ApiError.badRequest(
              `Approval request '${id}' was not issued by this server for this API key, MCP server, tool and arguments; send back the mcp_approval_request item exactly as it was returned.`,
              param,
              'approval_request_invalid',
            );
          }
          if (this.d.now() - check.issuedAt > validity) throw ApiError.badRequest(`Approval request '${id}' has expired.`, param, 'approval_expired');
          call = { approvalRequestId: id, serverLabel: req.server_label, serverUrl, name: req.name, arguments: req.arguments, retrySafe: check.retrySafe, readOnly: check.readOnly };
        }
        if (item.approve) {
          const verdict = checkCall({ serverLabel: call.serverLabel, tool: { name: call.name, readOnly: call.readOnly }, approved: true }, tool, this.d.mcpServerPolicies[call.serverLabel]);
          if (!verdict.ok) throw ApiError.badRequest(`Approval request '${id}' cannot be approved: ${verdict.message}`, param, 'approval_tool_not_allowed');
        }
        // Whichever path it came by, an approval request id is answered once (checked last, so a
        // refusal above does not use it up).
        const use = await this.d.approvals.markUsed(id, claimant, validity);
        if (use.kind === 'used') throw ApiError.badRequest(`Approval request '${id}' was already used (by response '${use.by}').`, param, 'approval_already_used');
        marked.push(id);
        out.push({ decision: { approvalRequestId: id, approve: item.approve, reason: item.reason ?? null, call }, heldBy: found ? found.holder : null });
      }
    } catch (err) {
      await this.giveBack(claimant, claimed, marked);
      throw err;
    }
    return out;
  }

  /** Undoes the claims and use marks of a request that was refused or could not be enqueued. */
  private async giveBack(claimant: string, claimed: Array<{ holder: string; id: string }>, marked: string[]): Promise<void> {
    for (const c of claimed) await this.d.approvals.release(c.holder, c.id).catch(() => undefined);
    for (const id of marked) await this.d.approvals.unmarkUsed(id, claimant).catch(() => undefined);
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
   */
  async waitForFinal(id: string, signal?: AbortSignal, subscription?: Watch | null): Promise<FinalResponse | null> {
    const state = await waitForTerminal({
      store: this.d.store,
      hub: this.d.hub,
      keys: this.d.keys,
      responseId: id,
      pollIntervalMs: this.d.limits.keepalive_ms,
      ...(signal ? { signal } : {}),
      ...(subscription ? { subscription } : {}),
    });
    if (state.kind === 'aborted') return null;
    if (state.kind === 'missing') throw ApiError.responseNotFound(id);
    if (state.kind === 'snapshot') return { json: state.json, type: null };
    return { json: responseJsonOf(state.json), type: state.type };
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
