import { DelayedError, type Job } from 'bullmq';
import { checkCall, McpJobSchema, type McpJob, type McpJobResult } from '@spool/contracts';
import type { EventDraft, McpTool, ResponseStatus } from '@spool/protocol';
import type { ToolListCache } from '@spool/redis';
import { extractTrace, GEN_AI, injectTrace, tracer, type Logger, type McpServerConfig, type Metrics, type SecretBox } from '@spool/runtime';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { McpServerError, McpUrlNotAllowedError, type AllowList, type ElicitHook, type McpCallOutcome, type McpClientPool, type McpTarget } from './mcp/index.ts';
import type { OAuthTokens } from './oauth.ts';
import { ProgressEvents } from './progress.ts';
import { resolveTarget, type Credentials } from './resolve.ts';
import { DEFAULT_TASK_TIMEOUT_MS, pollTask, startAsTask, type TaskStep } from './tasks.ts';
import { DEFAULT_ELICITATION_TIMEOUT_MS, type HeldCalls } from './elicitation.ts';

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
  /**
   * MCP progress notifications become rate-limited `response.mcp_call.in_progress` events in the
   * response's log (see progress.ts); without this they only keep the call's timeout from expiring.
   */
  progress?: { intervalMs: number; append: (responseId: string, events: EventDraft[]) => Promise<unknown>; now?: () => number };
  /** Tokens of configured servers with `oauth`; a 401 from such a server drops its token. */
  oauth?: OAuthTokens;
  /** A response's status, null when it is gone: a cancelled response runs no new call, and a finished one's task is stopped. */
  responseStatus?: (responseId: string) => Promise<ResponseStatus | null>;
  /** The clock of task deadlines and poll times (tests). */
  now?: () => number;
  /** A result larger than this (UTF-8 bytes of the text the model would see) fails the call. */
  maxResultBytes?: number;
  metrics?: Metrics;
  /** Calls parked on an MCP elicitation (elicitation.ts); without it every question is declined. */
  held?: HeldCalls;
}

/**
 * The span and metrics of one MCP job: `execute_tool {tool}` (GenAI conventions) for a call,
 * `list_tools {server}` for a listing, as a child of the turn that asked for it; its context
 * goes to the server as `_meta.traceparent`. The server label of a metric is the configured one,
 * else `request` (labels from requests are not bounded).
 */
function observeMcpJob(raw: unknown, servers: Record<string, McpServerConfig>, metrics: Metrics | undefined) {
  const data = (raw ?? {}) as { kind?: string; serverLabel?: string; toolName?: string; itemId?: string; trace?: Record<string, string>; responseId?: string };
  // A resume is the tail of a call already counted: its span only, no second call in the metrics.
  const isCall = data.kind === 'call';
  const isResume = data.kind === 'resume';
  const server = data.serverLabel && Object.hasOwn(servers, data.serverLabel) ? data.serverLabel : 'request';
  const parent = extractTrace(data.trace);
  const span = tracer.startSpan(
    isCall ? `execute_tool ${data.toolName ?? ''}` : isResume ? `resume_tool ${data.serverLabel ?? ''}` : `list_tools ${data.serverLabel ?? ''}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [GEN_AI.operation]: isCall || isResume ? 'execute_tool' : 'list_tools',
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
      const status =
        result === null
          ? 'error'
          : result.kind === 'call'
            ? result.error === null
              ? 'ok'
              : 'message' in result.error && result.error.message.startsWith('Not run')
                ? 'refused'
                : 'error'
            : result.error === null
              ? 'ok'
              : 'error';
      if (isCall) {
        metrics?.mcpCalls.inc({ server, status });
        metrics?.mcpCallDuration.observe({ server }, (performance.now() - started) / 1000);
      }
      if (status !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      span.end();
    },
  };
}

const TERMINAL: ReadonlySet<ResponseStatus> = new Set<ResponseStatus>(['completed', 'failed', 'incomplete', 'cancelled']);

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
  const handle = async (job: Job, signal: AbortSignal, token: string | undefined, meta: Record<string, string>): Promise<McpJobResult> => {
    const data = McpJobSchema.parse(job.data);
    if (data.kind === 'resume') {
      if (deps.held) return deps.held.resume(data, signal);
      return { kind: 'call', itemId: data.itemId, output: null, error: { type: 'mcp_protocol_error', code: -32601, message: 'This executor cannot resume parked calls.' } };
    }
    const log = deps.logger.child({ responseId: data.responseId, jobId: job.id, server: data.serverLabel });
    const secrets = data.secrets ? deps.box.open<Record<string, Credentials>>(data.secrets) : {};
    const cred = secrets[data.serverLabel];
    // The trace context goes to the server as `_meta` (traceparent) with every call.
    const opts = { signal, meta };
    // A configured OAuth server that refuses its token (revoked, or expired before it said) gets one
    // more try with a fresh token: a 401 means the request was refused, so nothing ran.
    const oauthServer = data.serverUrl === null && deps.oauth !== undefined && deps.servers[data.serverLabel]?.oauth !== undefined;
    const renewToken = (): boolean => {
      if (oauthServer) deps.oauth?.invalidate(data.serverLabel);
      return oauthServer;
    };

    if (data.kind === 'list') {
      try {
        const list = async () => deps.pool.listTools(await resolveTarget(data.serverLabel, data.serverUrl, cred, deps.servers, deps.allow, deps.oauth), opts);
        const tools = await list().catch((err: unknown) => {
          if (err instanceof McpServerError && err.httpStatus === 401 && renewToken()) return list();
          throw err;
        });
        // A lost cache write only costs the next response a listing job.
        await deps.toolLists?.put({ serverLabel: data.serverLabel, serverUrl: data.serverUrl, credentials: cred }, tools).catch((err: unknown) => log.warn({ err }, 'could not cache the tool list'));
        return { kind: 'list', serverLabel: data.serverLabel, tools, error: null };
      } catch (err) {
        if (err instanceof McpServerError || err instanceof McpUrlNotAllowedError) {
          log.info({ code: err.code }, 'mcp list failed');
          if (err instanceof McpServerError && err.httpStatus === 401) renewToken();
          const message = err instanceof McpUrlNotAllowedError ? `Error retrieving tool list from MCP server: '${data.serverLabel}'. ${err.message}` : err.message;
          return { kind: 'list', serverLabel: data.serverLabel, tools: [], error: message };
        }
        throw err;
      }
    }

    const result = (outcome: McpCallOutcome): McpJobResult => {
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
    };
    const notRun = (code: number, message: string): McpJobResult => ({ kind: 'call', itemId: data.itemId, output: null, error: { type: 'mcp_protocol_error', code, message } });
    /** Resolves the target and maps a failure to reach it to the call's error. */
    const withTarget = async (run: (target: McpTarget) => Promise<McpJobResult>): Promise<McpJobResult> => {
      try {
        return await run(await resolveTarget(data.serverLabel, data.serverUrl, cred, deps.servers, deps.allow, deps.oauth));
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
    const now = deps.now ?? Date.now;
    const taskTimeoutMs = (data.serverUrl === null ? deps.servers[data.serverLabel]?.task_timeout_ms : undefined) ?? DEFAULT_TASK_TIMEOUT_MS;
    const cancelled = 'The tool call was cancelled with its response.';

    /**
     * After one task step: a result ends the job; an unfinished task is stored with the job, which
     * goes back to the queue (delayed) until the next poll, so no process holds the call meanwhile.
     */
    const afterStep = async (step: TaskStep, target: McpTarget, taskId: string | undefined): Promise<McpJobResult> => {
      if (signal.aborted) {
        // The response was cancelled (or deleted) during this step: the server stops the work too.
        const id = step.kind === 'wait' ? step.handle.taskId : taskId;
        if (id !== undefined) await deps.pool.cancelTask(target, id);
        return notRun(-32001, cancelled);
      }
      if (step.kind === 'done') return result(step.outcome);
      const handle = { ...step.handle };
      // "Still working" becomes a progress event, at the progress rate across polls.
      if (step.alive && deps.progress && data.outputIndex !== undefined && now() - handle.lastEventAt >= deps.progress.intervalMs) {
        handle.lastEventAt = now();
        await deps.progress
          .append(data.responseId, [{ type: 'response.mcp_call.in_progress', item_id: data.itemId, output_index: data.outputIndex }])
          .catch((err: unknown) => log.warn({ err }, 'could not append an mcp progress event'));
      }
      if (!token) throw new Error('An MCP task can only be polled from a BullMQ worker (no job token).');
      await job.updateData({ ...(job.data as Record<string, unknown>), task: handle });
      await job.moveToDelayed(now() + step.delayMs, token);
      throw new DelayedError();
    };

    // A call already running as a task is polled, whichever executor started it: nothing runs again.
    // A cancelled or deleted response's task is told to stop (its job is left queued for that: see
    // removeQueuedTurns).
    const running = data.task;
    if (running) {
      return withTarget(async (target) => {
        const status = deps.responseStatus ? await deps.responseStatus(data.responseId) : 'in_progress';
        if (status === null || TERMINAL.has(status)) {
          await deps.pool.cancelTask(target, running.taskId);
          return notRun(-32001, cancelled);
        }
        return afterStep(await pollTask(deps.pool, target, data.toolName, running, { signal, now: now(), taskTimeoutMs }), target, running.taskId);
      });
    }

    // The policy is checked here, where the call happens, and not only where the tool was offered
    // or the approval accepted: the configuration may have changed since, and a job may come from
    // a path that never offered the tool (an approval).
    const refusal = await policyRefusal(data, await deps.requestTools(data.responseId), deps.servers);
    if (refusal) {
      log.warn({ tool: data.toolName }, 'mcp call refused by policy');
      return notRun(-32600, refusal);
    }

    // A cancelled response runs no more calls (its queued ones are left to end here).
    if ((await deps.responseStatus?.(data.responseId)) === 'cancelled') return notRun(-32001, cancelled);

    // A call that was interrupted by a crash runs again only when the tool says that is safe.
    if (job.attemptsStarted > 1 && !data.retrySafe) {
      return notRun(-32001, 'The tool call was interrupted (the executor stopped) and was not run again because the tool is not marked read-only or idempotent.');
    }
    let args: Record<string, unknown>;
    try {
      const parsed: unknown = data.arguments.trim() === '' ? {} : JSON.parse(data.arguments);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('arguments must be a JSON object');
      args = parsed as Record<string, unknown>;
    } catch (err) {
      return notRun(-32602, `Invalid tool arguments: ${(err as Error).message}`);
    }
    return withTarget(async (target) => {
      // Servers with the tasks extension run the call as a task (it survives any executor); the rest as today.
      const asTask = await startAsTask(deps.pool, target, data.toolName, args, { signal, now: now(), taskTimeoutMs });
      if (asTask) return afterStep(asTask, target, undefined);
      const progress = deps.progress && data.outputIndex !== undefined ? progressEvents(deps.progress, data.responseId, data.itemId, data.outputIndex, log) : null;
      // The SDK asks for progress (sends a progressToken) only when there is someone to tell.
      const call = async (callSignal: AbortSignal, onElicit: ElicitHook | undefined): Promise<McpCallOutcome> => {
        const callOpts = { ...opts, signal: callSignal, ...(progress ? { onProgress: () => progress.report() } : {}), ...(onElicit ? { onElicit } : {}) };
        try {
          let outcome = await deps.pool.callTool(target, data.toolName, args, callOpts);
          if (!outcome.ok && outcome.error.type === 'http_error' && outcome.error.code === 401 && renewToken()) {
            const renewed = await resolveTarget(data.serverLabel, data.serverUrl, cred, deps.servers, deps.allow, deps.oauth);
            outcome = await deps.pool.callTool(renewed, data.toolName, args, callOpts);
            if (!outcome.ok && outcome.error.type === 'http_error' && outcome.error.code === 401) renewToken();
          }
          return outcome;
        } finally {
          await progress?.close();
        }
      };
      if (!deps.held) return result(await call(signal, undefined));
      // A call whose tool asks the user something parks (elicitation.ts): this job then ends with the question.
      const elicitationTimeoutMs = (data.serverUrl === null ? deps.servers[data.serverLabel]?.elicitation_timeout_ms : undefined) ?? DEFAULT_ELICITATION_TIMEOUT_MS;
      return deps.held.run(data, signal, elicitationTimeoutMs, call, result);
    });
  };

  return async (job: Job, token?: string, signal?: AbortSignal): Promise<McpJobResult> => {
    // Cancel reaches a running call: the pool aborts it and the server gets notifications/cancelled.
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort(), { once: true });
    const responseId = String((job.data as { responseId?: unknown })?.responseId ?? '');
    const unwatch = deps.watchClosed?.(responseId, () => abort.abort()) ?? (() => undefined);
    const observed = observeMcpJob(job.data, deps.servers, deps.metrics);
    try {
      const result = await handle(job, abort.signal, token, observed.meta);
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

function progressEvents(cfg: NonNullable<McpProcessorDeps['progress']>, responseId: string, itemId: string, outputIndex: number, log: Logger): ProgressEvents {
  return new ProgressEvents({
    itemId,
    outputIndex,
    intervalMs: cfg.intervalMs,
    now: cfg.now ?? Date.now,
    append: (events) => cfg.append(responseId, events),
    onError: (err) => log.warn({ err }, 'could not append an mcp progress event'),
  });
}
