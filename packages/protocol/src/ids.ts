import { randomBytes } from 'node:crypto';

/** OpenAI-style opaque ids: a type prefix and 48 random hex digits (resp_, msg_, fc_, call_, mcp_, …). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}
