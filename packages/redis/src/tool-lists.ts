import type { RedisClient } from './connection.ts';
import { z } from 'zod';
import type { Keys, McpCredentials } from '@spool/contracts';
import { McpToolInfoSchema, type McpToolInfo } from '@spool/protocol';

/** Where a listing came from: the server (a URL, or a configured label) and the credentials sent. */
export interface ToolListSource {
  serverLabel: string;
  /** null: the server configured under `serverLabel`. */
  serverUrl: string | null;
  credentials: McpCredentials | undefined;
}

const ToolsSchema = z.array(McpToolInfoSchema);

/**
 * A short-lived cache of MCP `tools/list` answers, shared by every process on the Redis.
 *
 * Why: without it, every response that offers MCP tools waits for a listing job on the executor
 * and a second turn job before the model is called (bench/findings.md, F7). The executor writes
 * each successful listing; a turn that finds one emits the same `mcp_list_tools` item at once.
 * Failures are never cached, so a broken server is asked again (and reported) every time.
 *
 * A listing is keyed by a keyed digest of the server *and* the credentials sent to it, because
 * a server may show each user different tools; a caller with other credentials never sees it.
 * The digest key means Redis holds no credential, and no way to test one.
 */
export class ToolListCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly digest: (text: string) => string,
    /** 0 turns the cache off. */
    private readonly ttlSeconds: number,
  ) {}

  get enabled(): boolean {
    return this.ttlSeconds > 0;
  }

  key(source: ToolListSource): string {
    const c = source.credentials ?? {};
    const headers = Object.entries(c.headers ?? {})
      .map(([name, value]) => [name.toLowerCase(), value] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const server = source.serverUrl === null ? ['configured', source.serverLabel] : ['url', source.serverUrl];
    return this.keys.mcpToolList(this.digest(JSON.stringify([server, headers, c.authorization ?? null])));
  }

  /** The cached listings of these sources, in order; null where there is none (or it is unreadable). */
  async getMany(sources: ToolListSource[]): Promise<Array<McpToolInfo[] | null>> {
    if (!this.enabled || sources.length === 0) return sources.map(() => null);
    // One GET per listing, not MGET: the digests land in different slots of a cluster.
    const raw = await Promise.all(sources.map((s) => this.redis.get(this.key(s))));
    return raw.map((text) => {
      if (text === null) return null;
      try {
        const parsed = ToolsSchema.safeParse(JSON.parse(text));
        return parsed.success ? parsed.data : null;
      } catch {
        return null;
      }
    });
  }

  async put(source: ToolListSource, tools: McpToolInfo[]): Promise<void> {
    if (!this.enabled) return;
    await this.redis.set(this.key(source), JSON.stringify(tools), 'EX', this.ttlSeconds);
  }
}
