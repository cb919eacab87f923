import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isApprovalRequestIdShape, mintApprovalRequestId, verifyApprovalRequestId, type ApprovalBinding } from './approval-ids.ts';

// The MAC as SecretBox.digest makes it: HMAC-SHA256 with a 32-byte key, as hex.
const macWith = (key: string) => (text: string) => createHmac('sha256', Buffer.alloc(32, key)).update(text).digest('hex');
const mac = macWith('a');
const binding: ApprovalBinding = { owner: 'owner-1', serverLabel: 'everything', name: 'get-sum', arguments: '{"a":1,"b":2}' };
const flags = { readOnly: true, retrySafe: true };
const issuedAt = 1_800_000_000;

describe('approval request ids', () => {
  it('look like OpenAI ids: mcpr_ and 48 lowercase hex digits (URL-safe)', () => {
    const id = mintApprovalRequestId(mac, binding, flags, issuedAt);
    expect(id).toMatch(/^mcpr_[0-9a-f]{48}$/);
    expect(encodeURIComponent(id)).toBe(id);
    expect(isApprovalRequestIdShape(id)).toBe(true);
    expect(mintApprovalRequestId(mac, binding, flags, issuedAt)).not.toBe(id);
  });

  it('verify for the binding they were minted for, and give back the time and the flags', () => {
    const id = mintApprovalRequestId(mac, binding, { readOnly: false, retrySafe: true }, issuedAt);
    expect(verifyApprovalRequestId(mac, id, binding)).toEqual({ ok: true, issuedAt, readOnly: false, retrySafe: true });
    const ro = mintApprovalRequestId(mac, binding, { readOnly: true, retrySafe: false }, issuedAt);
    expect(verifyApprovalRequestId(mac, ro, { ...binding })).toEqual({ ok: true, issuedAt, readOnly: true, retrySafe: false });
  });

  it('do not verify with other arguments, tool, server, owner or key', () => {
    const id = mintApprovalRequestId(mac, binding, flags, issuedAt);
    expect(verifyApprovalRequestId(mac, id, { ...binding, arguments: '{"a":1,"b":3}' }).ok).toBe(false);
    expect(verifyApprovalRequestId(mac, id, { ...binding, name: 'get-env' }).ok).toBe(false);
    expect(verifyApprovalRequestId(mac, id, { ...binding, serverLabel: 'other' }).ok).toBe(false);
    expect(verifyApprovalRequestId(mac, id, { ...binding, owner: 'owner-2' }).ok).toBe(false);
    expect(verifyApprovalRequestId(macWith('b'), id, binding).ok).toBe(false);
  });

  it('keep field boundaries: moving text from one field to the next changes the tag', () => {
    const id = mintApprovalRequestId(mac, { owner: 'o', serverLabel: 'ab', name: 'c', arguments: '{}' }, flags, issuedAt);
    expect(verifyApprovalRequestId(mac, id, { owner: 'o', serverLabel: 'a', name: 'bc', arguments: '{}' }).ok).toBe(false);
  });

  it('refuse an altered time, altered flags, a made-up tag and other shapes', () => {
    const id = mintApprovalRequestId(mac, binding, { readOnly: false, retrySafe: false }, issuedAt);
    const body = id.slice('mcpr_'.length);
    const later = `mcpr_${(issuedAt + 3600).toString(16)}${body.slice(8)}`;
    expect(verifyApprovalRequestId(mac, later, binding).ok).toBe(false);
    const flagged = `mcpr_${body.slice(0, 8)}03${body.slice(10)}`;
    expect(verifyApprovalRequestId(mac, flagged, binding).ok).toBe(false);
    const madeUp = `mcpr_${body.slice(0, 24)}${'0'.repeat(24)}`;
    expect(isApprovalRequestIdShape(madeUp)).toBe(true);
    expect(verifyApprovalRequestId(mac, madeUp, binding).ok).toBe(false);
    for (const bad of ['mcpr_nope', `mcpr_${body.toUpperCase()}`, `mcp_${body}`, `${id}0`, '']) {
      expect(isApprovalRequestIdShape(bad)).toBe(false);
      expect(verifyApprovalRequestId(mac, bad, binding).ok).toBe(false);
    }
  });
});
