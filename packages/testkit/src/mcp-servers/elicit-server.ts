import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { hostMcpSessions } from './session-host.ts';

/** One run of an eliciting tool, as the server saw it. */
export interface ElicitRun {
  tool: string;
  /** The answers it got, in order (`action` and `content`). */
  answers: Array<{ action: string; content?: Record<string, unknown> }>;
  /** Set when the tool returned (false while it still waits, or when its call was cancelled). */
  finished: boolean;
}

export interface ElicitMcpServer {
  url: string;
  runs: ElicitRun[];
  close(): Promise<void>;
}

/**
 * A real MCP server whose tools ask the user (form elicitation, the SDK's `elicitInput`), over
 * Streamable HTTP on 127.0.0.1, recording each run and the answers it got. Questions go on the
 * call's own answer stream (`relatedRequestId`), as the SDK's tool context does:
 * - `deploy` asks which environment (`env`, one of staging/production, required) and how many
 *   `replicas` (integer 1..10), then answers `Deployed to <env> with <n> replicas` or
 *   `Not deployed (<action>)`.
 * - `survey` asks twice (a name, then a boolean), then answers with both.
 * - `impatient` asks but waits only 300 ms (the server's own request timeout), then answers
 *   `Gave up waiting for the user`.
 */
export async function startElicitMcpServer(): Promise<ElicitMcpServer> {
  const runs: ElicitRun[] = [];

  function buildServer(): McpServer {
    const server = new McpServer({ name: 'spool-elicit-server', version: '1.0.0' });
    server.registerTool('deploy', { description: 'Deploys, after asking where' }, async (extra) => {
      const run: ElicitRun = { tool: 'deploy', answers: [], finished: false };
      runs.push(run);
      const answer = await server.server.elicitInput(
        {
          mode: 'form',
          message: 'Where should I deploy?',
          requestedSchema: {
            type: 'object',
            properties: {
              env: { type: 'string', enum: ['staging', 'production'], description: 'Target environment' },
              replicas: { type: 'integer', minimum: 1, maximum: 10 },
            },
            required: ['env'],
          },
        },
        { relatedRequestId: extra.requestId },
      );
      run.answers.push({ action: answer.action, ...(answer.content ? { content: answer.content } : {}) });
      run.finished = true;
      const text = answer.action === 'accept' ? `Deployed to ${String(answer.content?.env)} with ${String(answer.content?.replicas ?? 1)} replicas` : `Not deployed (${answer.action})`;
      return { content: [{ type: 'text' as const, text }] };
    });
    server.registerTool('impatient', { description: 'Asks, but waits only 300 ms for the answer' }, async (extra) => {
      const run: ElicitRun = { tool: 'impatient', answers: [], finished: false };
      runs.push(run);
      try {
        const answer = await server.server.elicitInput(
          { mode: 'form', message: 'Quick, yes or no?', requestedSchema: { type: 'object', properties: { yes: { type: 'boolean' } } } },
          { timeout: 300, relatedRequestId: extra.requestId },
        );
        run.answers.push({ action: answer.action });
        return { content: [{ type: 'text' as const, text: `Answered ${answer.action}` }] };
      } catch {
        return { content: [{ type: 'text' as const, text: 'Gave up waiting for the user' }] };
      } finally {
        run.finished = true;
      }
    });
    server.registerTool('survey', { description: 'Asks two questions' }, async (extra) => {
      const run: ElicitRun = { tool: 'survey', answers: [], finished: false };
      runs.push(run);
      const name = await server.server.elicitInput(
        { mode: 'form', message: 'What is your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
        { relatedRequestId: extra.requestId },
      );
      run.answers.push({ action: name.action, ...(name.content ? { content: name.content } : {}) });
      const likes = await server.server.elicitInput(
        { mode: 'form', message: 'Do you like tea?', requestedSchema: { type: 'object', properties: { tea: { type: 'boolean' } }, required: ['tea'] } },
        { relatedRequestId: extra.requestId },
      );
      run.answers.push({ action: likes.action, ...(likes.content ? { content: likes.content } : {}) });
      run.finished = true;
      return { content: [{ type: 'text' as const, text: `${String(name.content?.name)} ${likes.content?.tea === true ? 'likes' : 'does not like'} tea` }] };
    });
    return server;
  }

  const host = await hostMcpSessions(buildServer);
  return { url: host.url, runs, close: host.close };
}
