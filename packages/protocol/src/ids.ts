import { randomFillSync } from 'node:crypto';

/*
 * Ids are drawn from a pooled buffer of random bytes, refilled when used up: one
 * randomFillSync per 170 ids instead of one per id (it showed in the profile; see BENCHMARKS.md).
 */
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

/** OpenAI-style opaque ids: a type prefix and 48 random hex digits (resp_, msg_, fc_, call_, mcp_, …). */
export function newId(prefix: string): string {
  if (offset + 24 > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const hex = POOL.toString('hex', offset, offset + 24);
  offset += 24;
  return `${prefix}_${hex}`;
}
