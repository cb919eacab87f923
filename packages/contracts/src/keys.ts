/**
 * The one place that names shared Redis things. Every key of one response carries the response id
 * as a hash tag (`{resp_…}`), so a response's keys live in one slot and the Lua scripts that touch
 * several of them run on Redis Cluster too.
 */
export interface Keys {
  readonly prefix: string;
  /** BullMQ's own prefix: queues live under it, apart from our records. */
  readonly bullPrefix: string;
  /** Hash: the response record (snapshot, request, input, owner, status, sequence counter). */
  record(responseId: string): string;
  /** Stream: the numbered event log; entry id `0-(sequence_number+1)`. */
  events(responseId: string): string;
  /** Pub/sub channel that wakes readers when the log grows. */
  channel(responseId: string): string;
  /** Hash: the approval requests this response parked, by approval request id, and their claims. */
  approvals(responseId: string): string;
  /** List: webhook deliveries that failed their last try (bounded). */
  readonly webhookDeadLetters: string;
  /** The key that seals MCP credentials in job data, when SPOOL_SECRET_KEY does not give one. */
  readonly jobKey: string;
  /** String (JSON, with a TTL): an MCP server's `tools/list` answer, by a keyed digest of server and credentials. */
  mcpToolList(digest: string): string;
  /**
   * String (the claimant response id, with a TTL): an approval request id that was used, so that
   * a stateless (`store: false`) approval cannot be replayed. Hash-tagged by the approval id.
   */
  approvalUse(approvalRequestId: string): string;
  /**
   * The limit keys of one API key (by its owner hash, never the key), all under one hash tag
   * (`{owner}`) so that the one script that checks or settles them runs on Redis Cluster too.
   */
  limits(owner: string): KeyLimitKeys;
  /** Hash: one owner's usage on one UTC day (`YYYY-MM-DD`), fields `model\tcounter`; same hash tag. */
  usage(owner: string, day: string): string;
  /** Sorted set: recently created response ids by creation time (ms), trimmed (the console's list). */
  readonly recentResponses: string;
  /** Sorted set: `responseId approvalRequestId` of parked approvals by expiry (ms) (console, metrics). */
  readonly pendingApprovals: string;
}

export interface KeyLimitKeys {
  /** Sorted set: request timestamps of the last minute (sliding window). */
  readonly requests: string;
  /** Sorted set: response ids in flight, by expiry (ms). */
  readonly inFlight: string;
  /** Sorted set: background response ids in flight, by expiry (ms). */
  readonly background: string;
  /** Hash: tokens per minute number (`floor(ms / 60000)`), this minute and the last. */
  readonly tokensMinute: string;
  /** String: tokens spent on one UTC day. */
  tokensDay(day: string): string;
}

export function createKeys(prefix: string): Keys {
  if (/[\s{}]/.test(prefix)) throw new Error(`Redis key prefix must not contain spaces or braces: '${prefix}'`);
  return {
    prefix,
    bullPrefix: `${prefix}bull`,
    record: (id) => `${prefix}resp:{${id}}`,
    jobKey: `${prefix}job-key`,
    webhookDeadLetters: `${prefix}webhooks:dead`,
    events: (id) => `${prefix}resp:{${id}}:events`,
    channel: (id) => `${prefix}live:{${id}}`,
    approvals: (id) => `${prefix}resp:{${id}}:approvals`,
    mcpToolList: (digest) => `${prefix}mcp:tools:${digest}`,
    approvalUse: (id) => `${prefix}approval:{${id}}:used`,
    limits: (owner) => ({
      requests: `${prefix}limit:{${owner}}:requests`,
      inFlight: `${prefix}limit:{${owner}}:in-flight`,
      background: `${prefix}limit:{${owner}}:background`,
      tokensMinute: `${prefix}limit:{${owner}}:tokens-minute`,
      tokensDay: (day) => `${prefix}limit:{${owner}}:tokens-day:${day}`,
    }),
    usage: (owner, day) => `${prefix}usage:{${owner}}:${day}`,
    recentResponses: `${prefix}ops:recent`,
    pendingApprovals: `${prefix}ops:approvals`,
  };
}

/** Queue names, relative to `bullPrefix`. */
export const QUEUES = {
  turns: 'turns',
  mcp: 'mcp',
  webhooks: 'webhooks',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
