import { McpCallErrorSchema } from '@spool/protocol';
import { z } from 'zod';

/*
 * A tool call parked on an MCP elicitation (`elicitation/create` during `tools/call`): the call is
 * held open by the executor that runs it, the response ends `completed` with an
 * `mcp_elicitation_request` item, and a follow-up's `mcp_elicitation_response` resumes it. These
 * are the shapes the processes exchange about it (through Redis and job data).
 */

/** One answer field: MCP form elicitation allows only primitive values (and lists of enum strings). */
export const ElicitationValueSchema = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);

/** The user's answer, as MCP's `ElicitResult` has it. */
export const ElicitationAnswerSchema = z.object({
  action: z.enum(['accept', 'decline', 'cancel']),
  content: z.record(z.string(), ElicitationValueSchema).optional(),
});
export type ElicitationAnswer = z.infer<typeof ElicitationAnswerSchema>;

/** The call as it was made, to open the follow-up's `mcp_call` item (no credentials: the held session has them). */
const ElicitedCallSchema = z.object({
  serverLabel: z.string(),
  toolName: z.string(),
  arguments: z.string(),
});

/** What the executor parks in Redis when a call asks the user something; the API validates answers against it. */
export const ParkedElicitationSchema = ElicitedCallSchema.extend({
  elicitationId: z.string(),
  /** The response whose `mcp_call` asked, and that item. */
  responseId: z.string(),
  itemId: z.string(),
  owner: z.string(),
  message: z.string(),
  /** The server's `requestedSchema` (a flat object schema of primitive properties). */
  requestedSchema: z.record(z.string(), z.unknown()),
  /** Epoch ms after which the executor gives up waiting (elicitation_timeout_ms): the answer is then refused. */
  expiresAt: z.number().int(),
});
export type ParkedElicitation = z.infer<typeof ParkedElicitationSchema>;

/** What a call job returns (in its `mcp_call` result) when its tool is waiting for the user. */
export const ElicitationNoticeSchema = z.object({
  elicitationId: z.string(),
  message: z.string(),
  requestedSchema: z.record(z.string(), z.unknown()),
});
export type ElicitationNotice = z.infer<typeof ElicitationNoticeSchema>;

/** An accepted answer, carried by the follow-up's first turn job to the `resume` MCP job. */
export const ElicitationResumeSchema = z.object({
  elicitationId: z.string(),
  answer: ElicitationAnswerSchema,
  call: ElicitedCallSchema,
});
export type ElicitationResume = z.infer<typeof ElicitationResumeSchema>;

/**
 * What a parked call did after it got its answer, as the holding executor records it for the
 * resume job: its result, or another question (`elicitation`, the call stays parked under a new id).
 */
export const HeldCallStepSchema = z.object({
  output: z.string().nullable(),
  error: McpCallErrorSchema.nullable(),
  elicitation: ElicitationNoticeSchema.optional(),
});
export type HeldCallStep = z.infer<typeof HeldCallStepSchema>;
