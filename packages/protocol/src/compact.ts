import { z } from 'zod';
import { ApiError } from './errors.ts';
import { InputItemSchema } from './items.ts';
import { parseOrBadRequest } from './request.ts';
import type { Usage } from './response.ts';

/** `POST /v1/responses/compact` (openai-node `ResponseCompactParams`). `model` is required. */
export const CompactRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(InputItemSchema)]).nullish(),
  previous_response_id: z.string().nullish(),
  instructions: z.string().nullish(),
  prompt_cache_key: z.string().max(64).nullish(),
});
export type CompactRequest = z.infer<typeof CompactRequestSchema>;

/** The compaction item a compaction answers with (openai-node `ResponseCompactionItem`). */
export interface CompactionOutputItem {
  type: 'compaction';
  id: string;
  encrypted_content: string;
  created_by: string;
}

/** The answer of `POST /v1/responses/compact` (openai-node `CompactedResponse`). */
export interface CompactedResponse {
  id: string;
  object: 'response.compaction';
  created_at: number;
  output: CompactionOutputItem[];
  usage: Usage;
}

export function parseCompactRequest(body: unknown): CompactRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw ApiError.badRequest('The request body must be a JSON object.', null, 'invalid_json');
  return parseOrBadRequest(CompactRequestSchema, body);
}
