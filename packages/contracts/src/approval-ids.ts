import { randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Approval request ids that only Spool can make. A stateless client (`store: false`) sends the
 * `mcp_approval_request` item back in its input, so the API cannot look the call up: instead the
 * id carries a keyed MAC over everything that decides what runs (owner, server label, tool name,
 * arguments) and what Spool knew about the tool when it asked (read-only, safe to retry), made with
 * the key every Spool process shares. A made-up id, or a real one sent with other arguments, another
 * tool or server, or by another API key, does not verify.
 *
 * Layout: `mcpr_` + 48 lowercase hex digits, as long as Spool's other ids (and OpenAI's):
 *   8 issued-at (unix seconds) · 2 flags · 14 nonce · 24 tag (the first 96 bits of the HMAC-SHA256)
 */

/** A keyed MAC of a text, as hex (`SecretBox.digest`: HMAC-SHA256 with the process-shared key). */
export type MacFn = (text: string) => string;

/** What an approval request id is bound to. */
export interface ApprovalBinding {
  owner: string;
  serverLabel: string;
  name: string;
  arguments: string;
}

/** What Spool knew about the tool when it asked; carried in the id, covered by the tag. */
export interface ApprovalFlags {
  readOnly: boolean;
  retrySafe: boolean;
}

export type ApprovalIdCheck = ({ ok: true; issuedAt: number } & ApprovalFlags) | { ok: false };

const PREFIX = 'mcpr_';
const ID_PATTERN = /^mcpr_([0-9a-f]{8})([0-9a-f]{2})([0-9a-f]{14})([0-9a-f]{24})$/;
const TAG_HEX = 24;
const DOMAIN = 'spool/mcp-approval-request/v1\u0000';

function tagOf(mac: MacFn, head: string, b: ApprovalBinding): string {
  // JSON of an array: unambiguous field boundaries whatever the strings contain.
  return mac(DOMAIN + JSON.stringify([head, b.owner, b.serverLabel, b.name, b.arguments])).slice(0, TAG_HEX);
}

/** Mints the id of a new approval request. `issuedAt` is unix seconds. */
export function mintApprovalRequestId(mac: MacFn, binding: ApprovalBinding, flags: ApprovalFlags, issuedAt: number, nonce: Buffer = randomBytes(7)): string {
  const time = Math.max(0, Math.min(0xffffffff, Math.floor(issuedAt)))
    .toString(16)
    .padStart(8, '0');
  const bits = (flags.readOnly ? 1 : 0) | (flags.retrySafe ? 2 : 0);
  const head = `${time}${bits.toString(16).padStart(2, '0')}${nonce.subarray(0, 7).toString('hex').padEnd(14, '0')}`;
  return `${PREFIX}${head}${tagOf(mac, head, binding)}`;
}

/** True when the id has the shape Spool mints (it may still not verify). */
export function isApprovalRequestIdShape(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Checks that `id` was minted by a holder of the key for exactly this binding. */
export function verifyApprovalRequestId(mac: MacFn, id: string, binding: ApprovalBinding): ApprovalIdCheck {
  const m = ID_PATTERN.exec(id);
  if (!m) return { ok: false };
  const [, time, bits, nonce, tag] = m as unknown as [string, string, string, string, string];
  const head = `${time}${bits}${nonce}`;
  const expected = Buffer.from(tagOf(mac, head, binding), 'utf8');
  const given = Buffer.from(tag, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false };
  const flags = parseInt(bits, 16);
  return { ok: true, issuedAt: parseInt(time, 16), readOnly: (flags & 1) !== 0, retrySafe: (flags & 2) !== 0 };
}
