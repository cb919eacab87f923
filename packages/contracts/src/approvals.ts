import { z } from 'zod';

/**
 * A parked MCP call waiting for its `mcp_approval_response`: the whole call minus credentials.
 * The client resends `tools` (with credentials) on the follow-up, as with the OpenAI API.
 */
export const ParkedApprovalSchema = z.object({
  approvalRequestId: z.string(),
  responseId: z.string(),
  owner: z.string(),
  serverLabel: z.string(),
  /** null: a configured server named by label. */
  serverUrl: z.string().nullable(),
  name: z.string(),
  arguments: z.string(),
  retrySafe: z.boolean(),
  /** The tool's readOnlyHint when it was listed (the policy's `read_only` filters read it). Older parked calls lack it. */
  readOnly: z.boolean().default(false),
});
export type ParkedApproval = z.infer<typeof ParkedApprovalSchema>;

/** Decisions a follow-up turn acts on first, with no model inference for the approved ones. */
export const ApprovalDecisionSchema = z.object({
  approvalRequestId: z.string(),
  approve: z.boolean(),
  reason: z.string().nullable(),
  call: ParkedApprovalSchema.omit({ owner: true, responseId: true }),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;
