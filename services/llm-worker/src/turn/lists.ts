import type { McpToolInfo } from '@spool/protocol';
import type { Turn } from './context.ts';
import type { TurnOutcome } from './deps.ts';
import { awaitingNothing, handOver, mcpListJob } from './handover.ts';
import { filterTools, listsInContext, serverUrlOf, toolInfos } from './mcp.ts';
import type { ContextItem } from './messages.ts';
import { closeList, openList } from './mcp-items.ts';
import { mcpToolsOf } from './results.ts';

/**
 * Step 2: the tool list of every MCP server of the request. What the context holds is reused,
 * then recent listings of the same server with the same credentials (ToolListCache); the rest
 * are fetched on the MCP executor first, and this turn hands over to the next.
 */
export async function ensureLists(turn: Turn, items: ContextItem[]): Promise<Map<string, McpToolInfo[]> | TurnOutcome> {
  const { deps, job, writer } = turn;
  const mcpTools = mcpToolsOf(turn);
  const lists = listsInContext(items);
  let missing = mcpTools.filter((t) => !lists.has(t.server_label));
  if (missing.length > 0 && deps.toolLists?.enabled) {
    const secrets = job.secrets ? deps.openSecrets(job.secrets) : {};
    const cached = await deps.toolLists.getMany(missing.map((t) => ({ serverLabel: t.server_label, serverUrl: serverUrlOf(t), credentials: secrets[t.server_label] })));
    missing = missing.filter((t, i) => {
      const found = cached[i];
      if (!found) return true;
      const tools = filterTools(found, t.allowed_tools, deps.mcpServers[t.server_label]);
      closeList(writer, openList(writer, t.server_label).outputIndex, tools, null);
      lists.set(t.server_label, toolInfos(tools));
      return false;
    });
  }
  if (missing.length === 0) return lists;
  const awaiting = awaitingNothing();
  for (const t of missing) awaiting.lists.push({ serverLabel: t.server_label, ...openList(writer, t.server_label) });
  return handOver(
    turn,
    awaiting,
    missing.map((t) => mcpListJob(turn, t.server_label, serverUrlOf(t))),
  );
}
