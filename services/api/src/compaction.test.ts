import { describe, expect, it } from 'vitest';
import type { InputItem } from '@spool/protocol';
import { estimateTokens, splitTail } from './compaction.ts';

const user = (text: string): InputItem => ({ type: 'message', role: 'user', content: text });
const assistant = (text: string): InputItem => ({ type: 'message', role: 'assistant', content: text });

describe('compaction helpers', () => {
  it('estimates four characters per token over the items and the instructions, rounding up', () => {
    const items = [user('abcd')];
    const chars = JSON.stringify(items[0]).length;
    expect(estimateTokens(null, items)).toBe(Math.ceil(chars / 4));
    expect(estimateTokens('x'.repeat(8), items)).toBe(Math.ceil((chars + 8) / 4));
    expect(estimateTokens(undefined, [])).toBe(0);
  });

  it('keeps the trailing user messages out of what is compacted', () => {
    const input = [user('a'), assistant('b'), user('c'), user('d')];
    expect(splitTail(input)).toEqual({ head: [user('a'), assistant('b')], tail: [user('c'), user('d')] });
    expect(splitTail([assistant('only')])).toEqual({ head: [assistant('only')], tail: [] });
    expect(splitTail([user('q')])).toEqual({ head: [], tail: [user('q')] });
  });
});
