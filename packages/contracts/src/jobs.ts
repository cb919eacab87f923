import { McpCallErrorSchema, McpToolInfoSchema, WebhookEventTypeSchema } from '@spool/protocol';
import { z } from 'zod';
import { ApprovalDecisionSchema } from './approvals.ts';
import { ElicitationAnswerSchema, ElicitationNoticeSchema, ElicitationResumeSchema } from './elicitations.ts';
import { QUEUES, type QueueName } from './keys.ts';

/**
 * The job catalog: every job any process enqueues, with its queue, its data schema and its id.
 * Producers enqueue through it; a processor's first line parses `job.data` with the same schema.
 */
export interface JobDefinition<S extends z.ZodType> {
  readonly queue: QueueName;
  readonly name: string;
  readonly schema: S;
  /** Deterministic job ids make a retried enqueue a no-op (BullMQ ignores a duplicate id). */
  jobId(data: z.infer<S>): string;
}

/** One MCP server's credentials from a request (sealed in job data as a `McpSecrets` map by label). */
export const McpCredentialsSchema = z.object({
  headers: z.record(z.string(), z.string()).optional(),
  authorization: z.string().optional(),
});
export type McpCredentials = z.infer<typeof McpCredentialsSchema>;
export type McpSecrets = Record<string, McpCredentials>;

/**
 * BullMQ options of every turn job, first or next: a turn that throws (Redis gone mid-write) is
 * tried again, and one that had started fails its response as interrupted (llm-worker/processor);
 * finished jobs go at once, failed ones stay a day for inspection.
 */
export const TURN_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: { age: 24 * 3600 },
} as const;

export const TurnJobSchema = z.object({
  responseId: z.string(),
  /** 0 for the first step; each round of tool listings or tool results adds one. */
  turn: z.number().int().min(0),
  /**
   * MCP credentials of this request (headers, authorization), sealed with the job key (see
   * runtime/secrets). They live only in job data, are passed from turn to turn, and go with the job.
   */
  secrets: z.string().optional(),
  /** Approved calls to run first (turn 0 of a follow-up carrying mcp_approval_response items). */
  approvals: z.array(ApprovalDecisionSchema).optional(),
  /** Answers to parked elicitations (turn 0 of a follow-up carrying mcp_elicitation_response items): their calls resume first. */
  elicitations: z.array(ElicitationResumeSchema).optional(),
  /** The MCP operations this turn waits for: its children in the flow, answered by their results. */
  awaiting: z
    .object({
      lists: z.array(z.object({ serverLabel: z.string(), itemId: z.string(), outputIndex: z.number().int() })),
      calls: z.array(z.object({ itemId: z.string(), outputIndex: z.number().int() })),
    })
    .optional(),
  /** W3C trace context of the response (`traceparent`, `tracestate`): one trace across jobs. */
  trace: z.record(z.string(), z.string()).optional(),
  /**
   * The previous_response_id chain the API walked, oldest first: the turn reads those records in
   * one round trip instead of walking it again link by link (checked again; absent: walked).
   */
  chain: z.array(z.string()).optional(),
});
export type TurnJob = z.infer<typeof TurnJobSchema>;

export const turnJob: JobDefinition<typeof TurnJobSchema> & { options: typeof TURN_JOB_OPTIONS } = {
  queue: QUEUES.turns,
  name: 'turn',
  schema: TurnJobSchema,
  jobId: (d) => `${d.responseId}-t${d.turn}`,
  options: TURN_JOB_OPTIONS,
};

/**
 * An MCP call running as a task on its server (the MCP tasks extension), kept in the call's job
 * data (`job.updateData`), so that whichever executor runs the job next can poll it. Polling is the
 * same job moved to delayed between polls (`moveToDelayed`): a short job every `pollIntervalMs`, no
 * process holding a connection, and the job stays the next turn's child in the flow.
 */
export const McpTaskHandleSchema = z.object({
  taskId: z.string().min(1),
  /** The next wait between polls: the server's suggestion, bounded (mcp-executor/src/tasks.ts). */
  pollIntervalMs: z.number().int().min(1),
  /** Epoch ms after which the call has taken longer than `task_timeout_ms`: it is cancelled and fails. */
  deadline: z.number().int(),
  /** When the last progress event was written (epoch ms), so that polls do not exceed the progress rate. */
  lastEventAt: z.number().int().default(0),
});
export type McpTaskHandle = z.infer<typeof McpTaskHandleSchema>;

/** One MCP operation on the executor: list a server's tools, or call one tool. */
export const McpJobSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('list'),
    responseId: z.string(),
    turn: z.number().int(),
    serverLabel: z.string(),
    /** null: a server configured under this label. */
    serverUrl: z.string().nullable(),
    secrets: z.string().optional(),
    /** W3C trace context of the response (`traceparent`, `tracestate`): one trace across jobs. */
    trace: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    kind: z.literal('call'),
    responseId: z.string(),
    turn: z.number().int(),
    itemId: z.string(),
    serverLabel: z.string(),
    serverUrl: z.string().nullable(),
    toolName: z.string(),
    arguments: z.string(),
    /** Retried after a crash only when the tool says it is safe (readOnlyHint / idempotentHint). */
    retrySafe: z.boolean(),
    /**
     * The approval this call runs under (null: the policy let it run without one). The executor
     * checks the policy again before the call, and a call that needs approval needs this.
     */
    approvalRequestId: z.string().nullable().default(null),
    /** The tool's readOnlyHint as listed: the policy's `read_only` filters read it. */
    readOnly: z.boolean().default(false),
    secrets: z.string().optional(),
    /** W3C trace context of the response (`traceparent`, `tracestate`): one trace across jobs. */
    trace: z.record(z.string(), z.string()).optional(),
    /** Where the call's item sits in the response's output: the executor's progress events name it. */
    outputIndex: z.number().int().min(0).optional(),
    /** Set once the call runs as an MCP task: the job then polls it instead of calling again. */
    task: McpTaskHandleSchema.optional(),
  }),
  /**
   * Resumes a call parked on an elicitation: hands the user's answer to the executor holding the
   * call and waits for what the call does next (its result, or another question). Runs on any
   * executor; re-running it only waits again (the answer is handed over once).
   */
  z.object({
    kind: z.literal('resume'),
    responseId: z.string(),
    turn: z.number().int(),
    /** The follow-up's `mcp_call` item that will carry the result. */
    itemId: z.string(),
    serverLabel: z.string(),
    elicitationId: z.string(),
    answer: ElicitationAnswerSchema,
    outputIndex: z.number().int().min(0).optional(),
    trace: z.record(z.string(), z.string()).optional(),
  }),
]);
export type McpJob = z.infer<typeof McpJobSchema>;

export const mcpJob: JobDefinition<typeof McpJobSchema> & { options(data: McpJob): Record<string, unknown> } = {
  queue: QUEUES.mcp,
  name: 'mcp',
  schema: McpJobSchema,
  jobId: (d) => (d.kind === 'list' ? `${d.responseId}-t${d.turn}-list-${d.serverLabel}` : `${d.responseId}-t${d.turn}-${d.kind}-${d.itemId}`),
  /**
   * A child of the next turn job (a BullMQ flow). Listings and safe calls may run again after a
   * crash, and so may a resume (it only waits for the held call); other calls run at most once. A child that fails for good does not block its parent
   * (ignoreDependencyOnFailure): the turn then reports the call as interrupted.
   */
  options: (d) => ({
    attempts: d.kind !== 'call' || d.retrySafe ? 3 : 1,
    backoff: { type: 'exponential', delay: 500 },
    ignoreDependencyOnFailure: true,
    removeOnComplete: true,
    removeOnFail: { age: 24 * 3600 },
  }),
};

/** What an MCP job returns to its parent turn: results come back through the queue, not Redis keys. */
export const McpJobResultSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('list'),
    serverLabel: z.string(),
    tools: z.array(McpToolInfoSchema),
    error: z.string().nullable(),
  }),
  z.object({
    kind: z.literal('call'),
    itemId: z.string(),
    output: z.string().nullable(),
    error: McpCallErrorSchema.nullable(),
    /** The tool is waiting for the user (MCP elicitation): the call is parked, not finished. */
    elicitation: ElicitationNoticeSchema.optional(),
  }),
]);
export type McpJobResult = z.infer<typeof McpJobResultSchema>;

/** One webhook delivery to one endpoint. The endpoint is looked up by index in the configuration. */
export const WebhookJobSchema = z.object({
  responseId: z.string(),
  type: WebhookEventTypeSchema,
  endpoint: z.number().int().min(0),
  eventId: z.string(),
  createdAt: z.number().int(),
});
export type WebhookJob = z.infer<typeof WebhookJobSchema>;

/** Each webhook retry waits between half and all of its exponential delay, at random. */
export const WEBHOOK_BACKOFF_JITTER = 0.5;

export const webhookJob: JobDefinition<typeof WebhookJobSchema> & { options(retry: { attempts: number; backoffMs: number }): Record<string, unknown> } = {
  queue: QUEUES.webhooks,
  name: 'deliver',
  schema: WebhookJobSchema,
  jobId: (d) => `${d.responseId}-${d.type}-${d.endpoint}`,
  /**
   * Tries and backoff from limits.webhook_*; jittered, so after an endpoint's outage its retries
   * spread out instead of arriving together. Dead letters are kept a week.
   */
  options: (retry) => ({
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.backoffMs, jitter: WEBHOOK_BACKOFF_JITTER },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  }),
};

/**
 * How workers hold their jobs, by queue. The lock is renewed every lockDuration/2 while the
 * process lives; a dead process's job is found stalled within lockDuration + stalledInterval (at
 * most 15 s) and taken over once: a turn then fails its response as interrupted (llm-worker
 * recover.ts), an MCP call runs again only if the tool is safe to retry.
 */
export const WORKER_OPTIONS = {
  turns: { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1 },
  mcp: { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1 },
} as const;
