import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { MacFn } from './approval-ids.ts';

/*
 * Elicitation request ids that only Spool can make, like approval request ids (approval-ids.ts): a
 * keyed MAC over the owner (API key), the server label, the response and the `mcp_call` item the
 * tool asked from. The parked elicitation in Redis says the same; the tag means a made-up id, or a
 * real one sent by another API key, is refused before any Redis read, and ids cannot be guessed.
 *
 * Layout: `mcpe_` + 48 lowercase hex digits: 8 issued-at (unix seconds) · 16 nonce · 24 tag.
 */

export interface ElicitationBinding {
  owner: string;
  serverLabel: string;
  responseId: string;
  itemId: string;
}

const PREFIX = 'mcpe_';
const ID_PATTERN = /^mcpe_([0-9a-f]{8})([0-9a-f]{16})([0-9a-f]{24})$/;
const TAG_HEX = 24;
const DOMAIN = 'spool/mcp-elicitation-request/v1\u0000';

function tagOf(mac: MacFn, head: string, b: ElicitationBinding): string {
  return mac(DOMAIN + JSON.stringify([head, b.owner, b.serverLabel, b.responseId, b.itemId])).slice(0, TAG_HEX);
}

/** Mints the id of a new elicitation request. `issuedAt` is unix seconds. */
export function mintElicitationId(mac: MacFn, binding: ElicitationBinding, issuedAt: number, nonce: Buffer = randomBytes(8)): string {
  const time = Math.max(0, Math.min(0xffffffff, Math.floor(issuedAt)))
    .toString(16)
    .padStart(8, '0');
  const head = `${time}${nonce.subarray(0, 8).toString('hex').padEnd(16, '0')}`;
  return `${PREFIX}${head}${tagOf(mac, head, binding)}`;
}

/** True when the id has the shape Spool mints (it may still not verify). */
export function isElicitationIdShape(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Checks that `id` was minted by a holder of the key for exactly this binding. */
export function verifyElicitationId(mac: MacFn, id: string, binding: ElicitationBinding): boolean {
  const m = ID_PATTERN.exec(id);
  if (!m) return false;
  const [, time, nonce, tag] = m as unknown as [string, string, string, string];
  const expected = Buffer.from(tagOf(mac, `${time}${nonce}`, binding), 'utf8');
  const given = Buffer.from(tag, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
