import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isElicitationIdShape, mintElicitationId, verifyElicitationId } from './elicitation-ids.ts';

const mac = (text: string) => createHmac('sha256', 'k').update(text).digest('hex');
const other = (text: string) => createHmac('sha256', 'other').update(text).digest('hex');
const binding = { owner: 'key_a', serverLabel: 'ask', responseId: 'resp_1', itemId: 'mcp_1' };

describe('elicitation ids', () => {
  it('mints mcpe_ + 48 hex digits that verify for exactly their binding', () => {
    const id = mintElicitationId(mac, binding, 1_700_000_000);
    expect(id).toMatch(/^mcpe_[0-9a-f]{48}$/);
    expect(isElicitationIdShape(id)).toBe(true);
    expect(verifyElicitationId(mac, id, binding)).toBe(true);
  });

  it('refuses another owner, server, response or item, another key, and an altered id', () => {
    const id = mintElicitationId(mac, binding, 1_700_000_000);
    for (const change of [{ owner: 'key_b' }, { serverLabel: 'x' }, { responseId: 'resp_2' }, { itemId: 'mcp_2' }]) {
      expect(verifyElicitationId(mac, id, { ...binding, ...change })).toBe(false);
    }
    expect(verifyElicitationId(other, id, binding)).toBe(false);
    const flipped = id.slice(0, 10) + (id[10] === '0' ? '1' : '0') + id.slice(11);
    expect(verifyElicitationId(mac, flipped, binding)).toBe(false);
    expect(verifyElicitationId(mac, 'mcpe_xyz', binding)).toBe(false);
  });

  it('makes a new id each time (nonce)', () => {
    expect(mintElicitationId(mac, binding, 1)).not.toBe(mintElicitationId(mac, binding, 1));
  });
});
