import { z } from 'zod';
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

export const TurnJobSchema = z.object({
  responseId: z.string(),
  /** 0 for the first model turn; each round of tool results adds one. */
  turn: z.number().int().min(0),
});
export type TurnJob = z.infer<typeof TurnJobSchema>;

export const turnJob: JobDefinition<typeof TurnJobSchema> = {
  queue: QUEUES.turns,
  name: 'turn',
  schema: TurnJobSchema,
  jobId: (d) => `${d.responseId}-t${d.turn}`,
};
