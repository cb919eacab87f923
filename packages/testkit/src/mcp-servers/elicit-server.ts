import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

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
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const servers = new Set<McpServer>();

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

  const http = createServer((req, res) => {
    void (async () => {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const sessionId = req.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (!transport) {
        if (typeof sessionId === 'string') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void sessions.set(id, created) });
        transport = created;
        const server = buildServer();
        servers.add(server);
        await server.connect(created);
      }
      await transport.handleRequest(req, res, body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    runs,
    close: async () => {
      await Promise.allSettled([...servers].map((s) => s.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}
