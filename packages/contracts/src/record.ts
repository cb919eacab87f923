import { CreateResponseRequestSchema, InputItemSchema, type Response } from '@spool/protocol';
import { z } from 'zod';

/**
 * What the API stores for the workers: the create request without its input (kept apart, for
 * input_items) and without MCP credentials (those travel encrypted in job data only).
 */
export const StoredRequestSchema = CreateResponseRequestSchema.omit({ input: true });
export type StoredRequest = z.infer<typeof StoredRequestSchema>;

/** A response's own input items, normalised: every item has an id. */
export const StoredInputSchema = z.array(InputItemSchema);

/**
 * How an upstream failure reads over HTTP, kept beside a failed response's record by the worker
 * that failed it: a synchronous request answers with this status and error body (an upstream 400
 * stays a 400 for the SDK), where streams and polls only see the Response's `error`.
 */
export const UpstreamFailureSchema = z.object({
  status: z.number().int().min(400).max(599),
  type: z.string(),
  code: z.string().nullable(),
  param: z.string().nullable(),
  message: z.string(),
  /** The upstream's Retry-After, passed on with a 429. */
  retryAfter: z.string().nullable(),
});
export type UpstreamFailure = z.infer<typeof UpstreamFailureSchema>;

/** A response as its sealer left it: whose it is and its final snapshot (webhooks, usage). */
export interface SealedResponse {
  owner: string;
  snapshot: Response;
}
