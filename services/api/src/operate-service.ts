import { StoredRequestSchema } from '@spool/contracts';
import { ApiError, parseCreateRequest, type Response } from '@spool/protocol';
import { utcDay, type ElicitationStore, type KeyLimiter, type LogEntry, type OpsIndex, type ResponseStore } from '@spool/redis';
import type { ApiKeyEntry } from '@spool/runtime';
import { ANONYMOUS_OWNER, ownerOf } from './auth.ts';
import type { ResponsesService } from './responses-service.ts';

export interface ConsoleResponse {
  id: string;
  status: Response['status'];
  model: string;
  key_name: string;
  background: boolean;
  created_at: number;
  total_tokens: number | null;
}

export interface PendingApproval {
  response_id: string;
  approval_request_id: string;
  server_label: string;
  name: string;
  arguments: string;
  key_name: string;
  created_at: number;
}

/** A tool's question waiting for its client's answer (mcp_elicitation_request); only the client can answer it. */
export interface PendingElicitation {
  response_id: string;
  elicitation_request_id: string;
  server_label: string;
  name: string;
  message: string;
  /** The form's field names. */
  fields: string[];
  key_name: string;
  /** Unix seconds when the tool stops waiting. */
  expires_at: number;
}

export interface UsageRow {
  key_name: string;
  date: string;
  model: string;
  responses: number;
  input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  total_tokens: number;
}

export type QueueCounts = Record<string, Record<string, number>>;

export interface OperateServiceDeps {
  store: ResponseStore;
  index: OpsIndex;
  limiter: KeyLimiter;
  /** The newest webhook deliveries that failed for good (queues DeadLetters). */
  deadLetters: (limit: number) => Promise<unknown[]>;
  responses: ResponsesService;
  apiKeys: readonly ApiKeyEntry[];
  queueCounts: () => Promise<QueueCounts>;
  /** Refusals by the backlog bound so far (this process), for the console's admission panel. */
  admission: () => { maxQueueDepth: number; rejected: number };
  nowMs: () => number;
  /** Parked MCP elicitations, for the console's list. */
  elicitations?: ElicitationStore;
}

/**
 * What operators see and do: the console's data and its one action (answering an approval), and
 * per-key usage. Reads across owners, so only admin routes call it. Answering an approval goes
 * through `ResponsesService.create` with a follow-up request, exactly as a client's
 * `mcp_approval_response` does: the same claim, policy check and one run of the tool.
 */
export class OperateService {
  private readonly names: Map<string, string>;

  constructor(private readonly d: OperateServiceDeps) {
    this.names = new Map(d.apiKeys.map((k) => [ownerOf(k.key), k.name]));
  }

  keyName(owner: string): string {
    return this.names.get(owner) ?? (owner === ANONYMOUS_OWNER ? 'anonymous' : 'unknown');
  }

  async recentResponses(limit: number): Promise<ConsoleResponse[]> {
    const ids = await this.d.index.recent(limit);
    const records = await Promise.all(ids.map(async (id) => ({ id, r: await this.d.store.summary(id) })));
    return records.flatMap(({ id, r }) =>
      r
        ? [
            {
              id,
              status: r.status,
              model: r.snapshot.model,
              key_name: this.keyName(r.owner),
              background: r.background,
              created_at: r.snapshot.created_at,
              total_tokens: r.snapshot.usage?.total_tokens ?? null,
            },
          ]
        : [],
    );
  }

  /** Any owner's response (the console is for admins); 404 when it is gone. */
  async response(id: string): Promise<Response & { key_name: string }> {
    const r = await this.d.store.summary(id);
    if (!r) throw ApiError.responseNotFound(id);
    return { ...r.snapshot, key_name: this.keyName(r.owner) };
  }

  follow(id: string, after: number, onEvent: (e: LogEntry) => void, signal: AbortSignal) {
    return this.d.responses.follow(id, after, onEvent, signal);
  }

  async pendingElicitations(): Promise<PendingElicitation[]> {
    const parked = (await this.d.elicitations?.pending(this.d.nowMs())) ?? [];
    return parked.map((p) => ({
      response_id: p.responseId,
      elicitation_request_id: p.elicitationId,
      server_label: p.serverLabel,
      name: p.toolName,
      message: p.message,
      fields: Object.keys((p.requestedSchema.properties ?? {}) as Record<string, unknown>),
      key_name: this.keyName(p.owner),
      expires_at: Math.floor(p.expiresAt / 1000),
    }));
  }

  async pendingApprovals(): Promise<PendingApproval[]> {
    const pending = await this.d.index.pendingApprovals(this.d.nowMs());
    const byResponse = new Map<string, string[]>();
    for (const p of pending) byResponse.set(p.responseId, [...(byResponse.get(p.responseId) ?? []), p.approvalRequestId]);
    const out: PendingApproval[] = [];
    for (const [responseId, ids] of byResponse) {
      const r = await this.d.store.summary(responseId);
      if (!r) continue;
      for (const item of r.snapshot.output) {
        if (item.type !== 'mcp_approval_request' || !ids.includes(item.id)) continue;
        out.push({
          response_id: responseId,
          approval_request_id: item.id,
          server_label: item.server_label,
          name: item.name,
          arguments: item.arguments,
          key_name: this.keyName(r.owner),
          created_at: r.snapshot.created_at,
        });
      }
    }
    return out;
  }

  /**
   * Answers a parked approval as its owner would: a background follow-up with
   * `previous_response_id` and one `mcp_approval_response`, with the response's model and MCP
   * tools. Credentials a client sent with its request are not stored, so a call to such a server
   * cannot be approved here (the client must answer it); configured servers bring their own.
   */
  async decide(responseId: string, approvalRequestId: string, approve: boolean): Promise<Response> {
    const r = await this.d.store.get(responseId);
    if (!r) throw ApiError.responseNotFound(responseId);
    const stored = StoredRequestSchema.parse(JSON.parse(r.request));
    const request = parseCreateRequest({
      model: stored.model,
      previous_response_id: responseId,
      background: true,
      store: true,
      tools: (stored.tools ?? []).filter((t) => t.type === 'mcp'),
      input: [{ type: 'mcp_approval_response', approval_request_id: approvalRequestId, approve }],
    });
    const created = await this.d.responses.create(request, r.owner);
    return created.response;
  }

  deadLetters(limit: number): Promise<unknown[]> {
    return this.d.deadLetters(limit);
  }

  queues(): Promise<QueueCounts> {
    return this.d.queueCounts();
  }

  admission() {
    return this.d.admission();
  }

  /** Usage per key, day and model for the last `days` UTC days (today included), newest first. */
  async usage(days: number, keyName: string | null): Promise<UsageRow[]> {
    const now = this.d.nowMs();
    const dates = Array.from({ length: days }, (_, i) => utcDay(now - i * 86_400_000));
    const owners: Array<[string, string]> = this.d.apiKeys.map((k) => [ownerOf(k.key), k.name]);
    if (this.d.apiKeys.length === 0) owners.push([ANONYMOUS_OWNER, 'anonymous']);
    const rows: UsageRow[] = [];
    for (const [owner, name] of owners) {
      if (keyName !== null && keyName !== name) continue;
      for (const u of await this.d.limiter.usage(owner, dates)) {
        const c = (k: string) => u.counters[k] ?? 0;
        rows.push({
          key_name: name,
          date: u.date,
          model: u.model,
          responses: c('responses'),
          input_tokens: c('input_tokens'),
          output_tokens: c('output_tokens'),
          reasoning_tokens: c('reasoning_tokens'),
          cached_tokens: c('cached_tokens'),
          total_tokens: c('input_tokens') + c('output_tokens'),
        });
      }
    }
    return rows;
  }
}
