import type { Job } from 'bullmq';
import { checkCall, McpJobSchema, type McpJob, type McpJobResult } from '@spool/contracts';
import type { McpTool } from '@spool/protocol';
import type { ToolListCache } from '@spool/redis';
import { extractTrace, GEN_AI, injectTrace, tracer, type Logger, type McpServerConfig, type Metrics, type SecretBox } from '@spool/runtime';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { McpServerError, McpUrlNotAllowedError, type AllowList, type McpClientPool } from './mcp/index.ts';
import { resolveTarget, type Credentials } from './resolve.ts';

export interface McpProcessorDeps {
  pool: McpClientPool;
  /** Watches a response: a cancel (seal) or a delete aborts its call in flight. */
  watchClosed?: (responseId: string, onClosed: () => void) => () => void;
  servers: Record<string, McpServerConfig>;
  /** The `mcp` tools of the response's stored request; null when the response is gone. */
  requestTools: (responseId: string) => Promise<McpTool[] | null>;
  allow: AllowList;
  box: SecretBox;
  /** Successful listings are kept here for later responses (turn/run.ts reads them). */
  toolLists?: ToolListCache;
  logger: Logger;
  /** Called on MCP progress notifications, so open streams of the response see life. */
  onProgress?: (responseId: string) => void;
  /** A result larger than this (UTF-8 bytes of the text the model would see) fails the call. */
  maxResultBytes?: number;
  metrics?: Metrics;
}

/**
 * The span and metrics of one MCP job: `execute_tool {tool}` (GenAI conventions) for a call,
 * `list_tools {server}` for a listing, as a child of the turn that asked for it; its context
 * goes to the server as `_meta.traceparent`. The server label of a metric is the configured one,
 * else `request` (labels from requests are not bounded).
 */
function observeMcpJob(raw: unknown, servers: Record<string, McpServerConfig>, metrics: Metrics | undefined) {
  const data = (raw ?? {}) as { kind?: string; serverLabel?: string; toolName?: string; itemId?: string; trace?: Record<string, string>; responseId?: string };
  const isCall = data.kind === 'call';
  const server = data.serverLabel && Object.hasOwn(servers, data.serverLabel) ? data.serverLabel : 'request';
  const parent = extractTrace(data.trace);
  const span = tracer.startSpan(
    isCall ? `execute_tool ${data.toolName ?? ''}` : `list_tools ${data.serverLabel ?? ''}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [GEN_AI.operation]: isCall ? 'execute_tool' : 'list_tools',
        ...(isCall ? { [GEN_AI.toolName]: data.toolName ?? '', [GEN_AI.toolCallId]: data.itemId ?? '' } : {}),
        'mcp.server.label': data.serverLabel ?? '',
        [GEN_AI.responseId]: data.responseId ?? '',
      },
    },
    parent,
  );
  const started = performance.now();
  return {
    meta: injectTrace(span, parent),
    done(result: McpJobResult | null) {
      const status = result === null ? 'error' : result.kind === 'call' ? (result.error === null ? 'ok' : 'message' in result.error && result.error.message.startsWith('Not run') ? 'refused' : 'error') : result.error === null ? 'ok' : 'error';
      if (isCall) {
        metrics?.mcpCalls.inc({ server, status });
        metrics?.mcpCallDuration.observe({ server }, (performance.now() - started) / 1000);
      }
      if (status !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      span.end();
    },
  };
}

/** Why a call may not run now (the shared policy, contracts/mcp-policy), or null when it may. */
export function policyRefusal(call: Extract<McpJob, { kind: 'call' }>, requestTools: McpTool[] | null, servers: Record<string, McpServerConfig>): string | null {
  if (requestTools === null) return `Not run: response '${call.responseId}' no longer exists.`;
  const verdict = checkCall(
    { serverLabel: call.serverLabel, tool: { name: call.toolName, readOnly: call.readOnly }, approved: call.approvalRequestId !== null },
    requestTools.find((t) => t.server_label === call.serverLabel),
    servers[call.serverLabel],
  );
  return verdict.ok ? null : `Not run: ${verdict.message}`;
}

/**
 * One MCP operation. Tool failures are results, not job failures: the model is told and the
 * response goes on. Only infrastructure errors throw (and BullMQ retries where that is safe).
 */
export function createMcpProcessor(deps: McpProcessorDeps) {
  const handle = async (job: Job, signal: AbortSignal, meta: Record<string, string>): Promise<McpJobResult> => {
    const data = McpJobSchema.parse(job.data);
    const log = deps.logger.child({ responseId: data.responseId, jobId: job.id, server: data.serverLabel });
    const secrets = data.secrets ? deps.box.open<Record<string, Credentials>>(data.secrets) : {};
    const cred = secrets[data.serverLabel];
    const opts = { signal };

    if (data.kind === 'list') {
      try {
        const target = await resolveTarget(data.serverLabel, data.serverUrl, cred, deps.servers, deps.allow);
        const tools = await deps.pool.listTools(target, opts);
        // A lost cache write only costs the next response a listing job.
        await deps.toolLists?.put({ serverLabel: data.serverLabel, serverUrl: data.serverUrl, credentials: cred }, tools).catch((err: unknown) => log.warn({ err }, 'could not cache the tool list'));
        return { kind: 'list', serverLabel: data.serverLabel, tools, error: null };
      } catch (err) {
        if (err instanceof McpServerError || err instanceof McpUrlNotAllowedError) {
          log.info({ code: err.code }, 'mcp list failed');
          const message = err instanceof McpUrlNotAllowedError ? `Error retrieving tool list from MCP server: '${data.serverLabel}'. ${err.message}` : err.message;
          return { kind: 'list', serverLabel: data.serverLabel, tools: [], error: message };
        }
        throw err;
      }
    }

    // The policy is checked here, where the call happens, and not only where the tool was offered
    // or the approval accepted: the configuration may have changed since, and a job may come from
    // a path that never offered the tool (an approval).
    const refusal = await policyRefusal(data, await deps.requestTools(data.responseId), deps.servers);
    if (refusal) {
      log.warn({ tool: data.toolName }, 'mcp call refused by policy');
      return { kind: 'call', itemId: data.itemId, output: null, error: { type: 'mcp_protocol_error', code: -32600, message: refusal } };
    }

    // A call that was interrupted by a crash runs again only when the tool says that is safe.
    if (job.attemptsStarted > 1 && !data.retrySafe) {
      return {
        kind: 'call',
        itemId: data.itemId,
        output: null,
        error: { type: 'mcp_protocol_error', code: -32001, message: 'The tool call was interrupted (the executor stopped) and was not run again because the tool is not marked read-only or idempotent.' },
      };
    }
    let args: Record<string, unknown>;
    try {
      const parsed: unknown = data.arguments.trim() === '' ? {} : JSON.parse(data.arguments);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('arguments must be a JSON object');
      args = parsed as Record<string, unknown>;
    } catch (err) {
      return { kind: 'call', itemId: data.itemId, output: null, error: { type: 'mcp_protocol_error', code: -32602, message: `Invalid tool arguments: ${(err as Error).message}` } };
    }
    try {
      const target = await resolveTarget(data.serverLabel, data.serverUrl, cred, deps.servers, deps.allow);
      const outcome = await deps.pool.callTool(target, data.toolName, args, {
        ...opts,
        onProgress: () => deps.onProgress?.(data.responseId),
        meta,
      });
      if (!outcome.ok) return { kind: 'call', itemId: data.itemId, output: null, error: outcome.error };
      const bytes = Buffer.byteLength(outcome.output, 'utf8');
      if (deps.maxResultBytes !== undefined && bytes > deps.maxResultBytes) {
        // Refused here, before it enters the job result, the event log and the model's context.
        return {
          kind: 'call',
          itemId: data.itemId,
          output: null,
          error: { type: 'mcp_protocol_error', code: -32603, message: `The tool result is too large: ${bytes} bytes, over the limit of ${deps.maxResultBytes} (limits.max_mcp_result_bytes).` },
        };
      }
      return { kind: 'call', itemId: data.itemId, output: outcome.output, error: null };
    } catch (err) {
      if (err instanceof McpServerError || err instanceof McpUrlNotAllowedError) {
        const code = err instanceof McpServerError && err.httpStatus ? err.httpStatus : 0;
        return {
          kind: 'call',
          itemId: data.itemId,
          output: null,
          error: code ? { type: 'http_error', code, message: err.message } : { type: 'mcp_protocol_error', code: -32000, message: err.message },
        };
      }
      throw err;
    }
  };

  return async (job: Job, _token?: string, signal?: AbortSignal): Promise<McpJobResult> => {
    // Cancel reaches a running call: the pool aborts it and the server gets notifications/cancelled.
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort(), { once: true });
    const responseId = String((job.data as { responseId?: unknown })?.responseId ?? '');
    const unwatch = deps.watchClosed?.(responseId, () => abort.abort()) ?? (() => undefined);
    const observed = observeMcpJob(job.data, deps.servers, deps.metrics);
    try {
      const result = await handle(job, abort.signal, observed.meta);
      observed.done(result);
      return result;
    } catch (err) {
      observed.done(null);
      throw err;
    } finally {
      unwatch();
    }
  };
}
