import { describe, expect, it } from 'vitest';
import { InvalidCompactionError, openCompaction, sealCompaction } from './compaction.ts';
import { SecretBox } from './secrets.ts';

describe('compaction sealing', () => {
  const box = new SecretBox(Buffer.from(SecretBox.generateKey(), 'base64'));

  it('round-trips a summary for its owner, and the sealed form does not show it', () => {
    const sealed = sealCompaction(box, 'key_a', 'the code word is cobalt');
    expect(sealed).not.toContain('cobalt');
    expect(Buffer.from(sealed, 'base64').toString('latin1')).not.toContain('cobalt');
    expect(openCompaction(box, 'key_a', sealed)).toBe('the code word is cobalt');
  });

  it('refuses another owner, an altered blob, another key and other sealed values', () => {
    const sealed = sealCompaction(box, 'key_a', 'summary');
    expect(() => openCompaction(box, 'key_b', sealed)).toThrow(InvalidCompactionError);
    const raw = Buffer.from(sealed, 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
    expect(() => openCompaction(box, 'key_a', raw.toString('base64'))).toThrow(/altered/);
    const other = new SecretBox(Buffer.from(SecretBox.generateKey(), 'base64'));
    expect(() => openCompaction(other, 'key_a', sealed)).toThrow(InvalidCompactionError);
    expect(() => openCompaction(box, 'key_a', box.seal({ headers: { a: 'b' } }))).toThrow(/not a compaction/);
    expect(() => openCompaction(box, 'key_a', 'not base64 at all!')).toThrow(InvalidCompactionError);
  });
});
