import type { RedisClient } from '@spool/redis';
import { QUEUES, StoredRequestSchema, type Keys } from '@spool/contracts';
import { startWorker, type RunningWorker } from '@spool/queues';
import type { McpTool } from '@spool/protocol';
import { retentionSeconds, type Config, type Logger, type Metrics, type SecretBox } from '@spool/runtime';
import { CLOSED_POLL_MS, ElicitationStore, ToolListCache, watchClosed, type LiveHub, type ResponseStore } from '@spool/redis';
import { HeldCalls } from './elicitation.ts';
import { guardedLookup, McpClientPool, parseAllowList } from './mcp/index.ts';
import { OAuthTokens } from './oauth.ts';
import { createMcpProcessor } from './processor.ts';

export interface McpExecutorDeps {
  config: Config;
  keys: Keys;
  queueConnection: RedisClient;
  box: SecretBox;
  logger: Logger;
  /** Where the executor reads a response's tool policy before a call; lets a cancel or delete abort a call in flight. */
  store: ResponseStore;
  /** The process's subscriber: a long call follows its response's channel for a cancel's seal. */
  hub?: LiveHub;
  metrics?: Metrics;
}

/** The MCP executor role: consumes MCP jobs on a pool of MCP client sessions. */
export function startMcpExecutor(deps: McpExecutorDeps): RunningWorker {
  const allow = parseAllowList(deps.config.mcpAllowHosts);
  const pool = new McpClientPool({ onStderr: (label, text) => deps.logger.debug({ label, text }, 'mcp stdio stderr'), guardedLookup: guardedLookup(allow) });
  // Only a stored response can be continued by a follow-up, so only its calls may park on a question.
  const held = new HeldCalls({
    store: new ElicitationStore(deps.store.redis, deps.keys),
    mac: (text) => deps.box.digest(text),
    resumable: async (responseId) => {
      const record = await deps.store.get(responseId);
      return record?.store ? { owner: record.owner, ttlSeconds: retentionSeconds(deps.config.limits, true) } : null;
    },
    logger: deps.logger,
  });
  const processor = createMcpProcessor({
    pool,
    servers: deps.config.mcpServers,
    requestTools: async (responseId) => {
      const stored = await deps.store.getRequest(responseId);
      if (stored === null) return null;
      const request = StoredRequestSchema.parse(JSON.parse(stored));
      return (request.tools ?? []).filter((t): t is McpTool => t.type === 'mcp');
    },
    allow,
    held,
    responseStatus: async (responseId) => (await deps.store.get(responseId))?.status ?? null,
    oauth: new OAuthTokens({ secrets: deps.config.mcpOAuthSecrets }),
    box: deps.box,
    toolLists: new ToolListCache(deps.queueConnection, deps.keys, (text) => deps.box.digest(text), deps.config.limits.mcp_tool_list_cache_seconds),
    logger: deps.logger,
    maxResultBytes: deps.config.limits.max_mcp_result_bytes,
    watchClosed: (id: string, onClosed: () => void) => watchClosed(deps.store, id, onClosed, CLOSED_POLL_MS, deps.hub),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    // A sealed or deleted response refuses the append (APPEND_SEALED / APPEND_GONE): nothing to do then.
    progress: { intervalMs: deps.config.limits.mcp_progress_interval_ms, append: (id, events) => deps.store.append(id, events) },
  });
  // The lock is renewed while the process lives (so long calls are fine); see the catalog.
  const running = startWorker(QUEUES.mcp, processor, {
    connection: deps.queueConnection,
    keys: deps.keys,
    logger: deps.logger,
    concurrency: deps.config.limits.mcp_concurrency,
    graceMs: deps.config.limits.shutdown_grace_ms,
  });
  return {
    worker: running.worker,
    close: async () => {
      await running.close();
      // Parked calls are told "cancel" and their resumes learn why, before their sessions close.
      await held.close();
      await pool.close();
    },
  };
}
