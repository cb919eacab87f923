import { z } from 'zod';
import type { SecretBox } from './secrets.ts';

/**
 * The `encrypted_content` of a compaction item: the summary a turn job wrote, sealed with
 * AES-256-GCM under the key every Spool process shares (SecretBox), so the client holds an opaque
 * blob that only a Spool with the same key can open, and cannot alter. It names its kind (so no
 * other sealed value of Spool reads as a summary) and its owner (so one key cannot feed another
 * key's summary to the model).
 */
const SealedSummarySchema = z.object({ kind: z.literal('spool.compaction.v1'), owner: z.string(), summary: z.string() });

/** The content cannot be opened here (made elsewhere, altered, or another key's). */
export class InvalidCompactionError extends Error {
  override readonly name = 'InvalidCompactionError';
  readonly code = 'invalid_encrypted_content';
}

export function sealCompaction(box: SecretBox, owner: string, summary: string): string {
  return box.seal({ kind: 'spool.compaction.v1', owner, summary });
}

/** The summary inside `encrypted`, or an InvalidCompactionError. */
export function openCompaction(box: SecretBox, owner: string, encrypted: string): string {
  let value: unknown;
  try {
    value = box.open<unknown>(encrypted);
  } catch (err) {
    throw new InvalidCompactionError('The compaction item could not be decrypted: it was not made by this server, or it was altered.', { cause: err });
  }
  const parsed = SealedSummarySchema.safeParse(value);
  if (!parsed.success) throw new InvalidCompactionError('The encrypted content is not a compaction summary.');
  if (parsed.data.owner !== owner) throw new InvalidCompactionError('The compaction item belongs to another API key.');
  return parsed.data.summary;
}
