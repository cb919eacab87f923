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
  /**
   * Hash (with the response's retention): a call parked on an MCP elicitation, by its `mcpe_` id:
   * `parked` (JSON), `used` (the answering response), `answer`, `result` (what the call did next).
   * Hash-tagged by the elicitation id.
   */
  elicitation(elicitationId: string): string;
  /** String with a short TTL, renewed by the executor holding the parked call: gone means that executor died. */
  elicitationHolder(elicitationId: string): string;
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
   * Sorted set: ids of responses not known to be sealed, scored by when the watchdog should next
   * check that their work is alive (ms since the epoch). A global key: it is written by its own
   * commands, never inside a per-response script, so those stay on one cluster slot. Bounded: an
   * entry leaves once its response is sealed or gone, at the latest one check after.
   */
  readonly inflight: string;
  /** String with a TTL: held by the one process running the watchdog's scan this interval. */
  readonly watchdogLock: string;
  /**
   * How channels are published and subscribed: `sharded` (SPUBLISH/SSUBSCRIBE, Redis 7+) on a
   * cluster, where a channel then lives on the shard of its hash tag like the response's keys;
   * `classic` on a single Redis, which keeps Redis 6.2 working.
   */
  readonly pubsub: 'sharded' | 'classic';
  /** String: the API key generated for a server that has none and listens beyond loopback. */
  readonly generatedApiKey: string;
  /**
   * Hash: a conversation (owner, created_at, metadata, item counter). The conversation keys share
   * the conversation id as their hash tag, so the scripts that touch several run on Redis Cluster.
   */
  conversation(conversationId: string): string;
  /** Hash: the conversation's items as JSON, by item id. */
  conversationItems(conversationId: string): string;
  /** Sorted set: item ids in the order they were added (score: the item counter). */
  conversationOrder(conversationId: string): string;
  /** String (a response id, with a TTL): the response that is running on the conversation. */
  conversationLock(conversationId: string): string;
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
  /** Sorted set: ids of parked elicitations not yet answered, by expiry (ms) (the console's list). */
  readonly pendingElicitations: string;
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

export interface KeyOptions {
  /** Redis Cluster: BullMQ's prefix becomes a hash tag and pub/sub is sharded. */
  cluster?: boolean;
}

export function createKeys(prefix: string, opts: KeyOptions = {}): Keys {
  if (/[\s{}]/.test(prefix)) throw new Error(`Redis key prefix must not contain spaces or braces: '${prefix}'`);
  return {
    prefix,
    // BullMQ's scripts touch several keys of a queue, and a flow (a turn job with its MCP
    // children) touches two queues at once: on a cluster all of them must share one slot, which
    // BullMQ's docs get by a hash tag around the prefix. A single Redis keeps the untagged name,
    // so the queues of a running deployment stay where they are.
    bullPrefix: opts.cluster ? `{${prefix}bull}` : `${prefix}bull`,
    pubsub: opts.cluster ? 'sharded' : 'classic',
    generatedApiKey: `${prefix}generated-api-key`,
    record: (id) => `${prefix}resp:{${id}}`,
    jobKey: `${prefix}job-key`,
    webhookDeadLetters: `${prefix}webhooks:dead`,
    events: (id) => `${prefix}resp:{${id}}:events`,
    channel: (id) => `${prefix}live:{${id}}`,
    approvals: (id) => `${prefix}resp:{${id}}:approvals`,
    mcpToolList: (digest) => `${prefix}mcp:tools:${digest}`,
    approvalUse: (id) => `${prefix}approval:{${id}}:used`,
    elicitation: (id) => `${prefix}elicitation:{${id}}`,
    elicitationHolder: (id) => `${prefix}elicitation:{${id}}:holder`,
    inflight: `${prefix}inflight`,
    watchdogLock: `${prefix}watchdog:lock`,
    conversation: (id) => `${prefix}conv:{${id}}`,
    conversationItems: (id) => `${prefix}conv:{${id}}:items`,
    conversationOrder: (id) => `${prefix}conv:{${id}}:order`,
    conversationLock: (id) => `${prefix}conv:{${id}}:lock`,
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
    pendingElicitations: `${prefix}ops:elicitations`,
  };
}

/** Queue names, relative to `bullPrefix`. */
export const QUEUES = {
  turns: 'turns',
  mcp: 'mcp',
  webhooks: 'webhooks',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
