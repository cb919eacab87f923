import { z } from 'zod';

/*
 * Spool's extension items for MCP elicitation (not in the OpenAI API, nor in openai-node's types):
 * a tool that asks the user something during a call parks the call; the response ends `completed`
 * with an `mcp_elicitation_request`, and the client answers with an `mcp_elicitation_response`
 * input item on a follow-up (`previous_response_id`). Clients that do not know the item also get
 * an assistant message saying what was asked and how to answer (see README, MCP section).
 */

/** Longest answer a client may send for one field, and the most fields: an answer is a form, not a document. */
export const MAX_ELICITATION_VALUE_CHARS = 10_000;
export const MAX_ELICITATION_FIELDS = 50;

const ElicitationValueSchema = z.union([z.string().max(MAX_ELICITATION_VALUE_CHARS), z.number(), z.boolean(), z.array(z.string().max(MAX_ELICITATION_VALUE_CHARS)).max(MAX_ELICITATION_FIELDS)]);

/** Output item: the question a tool asked, waiting for the client's answer. A Spool extension. */
export const McpElicitationRequestItemSchema = z.object({
  type: z.literal('mcp_elicitation_request'),
  /** `mcpe_…`: answer it with this id. */
  id: z.string(),
  server_label: z.string(),
  /** The `mcp_call` item whose tool asked. */
  mcp_call_id: z.string(),
  /** The tool's name on its server. */
  name: z.string(),
  message: z.string(),
  /** The form the server asks for: MCP's restricted JSON Schema (a flat object of primitive properties). */
  requested_schema: z.record(z.string(), z.unknown()),
});
export type McpElicitationRequestItem = z.infer<typeof McpElicitationRequestItemSchema>;

/** Input item: the client's answer to an `mcp_elicitation_request`. A Spool extension. */
export const McpElicitationResponseItemSchema = z.object({
  type: z.literal('mcp_elicitation_response'),
  id: z.string().max(100).nullish(),
  elicitation_request_id: z.string().min(1).max(100),
  action: z.enum(['accept', 'decline', 'cancel']),
  /** With `accept`: the form's values, by property name. */
  content: z.record(z.string().max(200), ElicitationValueSchema).nullish(),
});
export type McpElicitationResponseItem = z.infer<typeof McpElicitationResponseItemSchema>;
