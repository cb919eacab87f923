import type { MacFn, McpJob, McpSecrets, SealedResponse, TurnJob } from '@spool/contracts';
import type { ResponseStatus } from '@spool/protocol';
import type { ApprovalStore, ConversationStore, ResponseRecord, ResponseStore, ToolListCache } from '@spool/redis';
import { retentionSeconds, type McpServerConfig } from '@spool/runtime';
import type { TurnObserver } from '../observe.ts';
import type { Upstreams } from '../upstream.ts';

export interface TurnDeps {
  store: ResponseStore;
  approvals: ApprovalStore;
  upstreams: Upstreams;
  limits: { retention_seconds: number; ephemeral_retention_seconds: number; max_chain_depth: number; max_turns: number };
  mcpServers: Record<string, McpServerConfig>;
  /** Recent MCP tool listings by server and credentials; null: every response lists on the executor. */
  toolLists: ToolListCache | null;
  /** Opens the MCP credentials sealed in job data (to find their cached listings). */
  openSecrets: (sealed: string) => McpSecrets;
  /** Enqueues the next turn, with MCP jobs as its children when there are any (a BullMQ flow). */
  enqueueNext: (next: TurnJob, children: McpJob[]) => Promise<void>;
  /**
   * Told once a response is sealed by this process: webhooks for background ones, the key's usage.
   * `sealed` is the final state when the sealer has it in hand, so nobody reads it back from Redis.
   */
  onSealed: (responseId: string, status: ResponseStatus, background: boolean, sealed?: SealedResponse) => Promise<void>;
  now: () => number;
  /** The keyed MAC that approval request ids carry (SecretBox.digest), so a stateless client cannot forge one. */
  approvalMac: MacFn;
  /** Opens a compaction item's summary for its owner (runtime/compaction); the API checked it on create. */
  openCompaction?: (owner: string, encryptedContent: string) => string;
  /** Conversations: their items are context, and a finished response is appended to its own. */
  conversations?: ConversationStore | null;
  /** Metrics and spans of the upstream call (observe.ts). */
  observe?: TurnObserver;
  /** The metrics label of a model (its configured route). */
  routeLabel?: (model: string) => string;
}

export type TurnOutcome =
  | { kind: 'finished'; status: ResponseStatus }
  /** Handed over to MCP jobs and the next turn. */
  | { kind: 'waiting'; children: number }
  /** The response was sealed (cancelled) or deleted by someone else; nothing more to do. */
  | { kind: 'closed' }
  | { kind: 'missing' };

export function retentionFor(record: Pick<ResponseRecord, 'store'>, limits: TurnDeps['limits']): number {
  return retentionSeconds(limits, record.store);
}
