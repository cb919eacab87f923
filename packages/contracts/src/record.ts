import { CreateResponseRequestSchema, InputItemSchema } from '@spool/protocol';
import { z } from 'zod';

/**
 * What the API stores for the workers: the create request without its input (kept apart, for
 * input_items) and without MCP credentials (those travel encrypted in job data only).
 */
export const StoredRequestSchema = CreateResponseRequestSchema.omit({ input: true });
export type StoredRequest = z.infer<typeof StoredRequestSchema>;

/** A response's own input items, normalised: every item has an id. */
export const StoredInputSchema = z.array(InputItemSchema);
