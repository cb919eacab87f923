import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, isInitializeRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

export interface TestMcpServerOptions {
  /** The exact `Authorization` header value every request must carry; anything else gets a 401. */
  requireAuth?: string;
  /** Streamable HTTP at `/mcp` (default), or the older HTTP+SSE transport at `/sse` + `/messages`. */
  transport?: 'streamable-http' | 'sse';
  /** Listen on this port (to restart a server where clients expect it); a free one by default. */
  port?: number;
  /** Answer every HTTP request with this status (a broken or misconfigured server). */
  failWith?: number;
  /** Split `tools/list` into pages of this many tools, with numeric cursors (McpServer never pages). */
  pageSize?: number;
  /**
   * Demand OAuth: every MCP request needs `Authorization: Bearer <token>` with a token this server's
   * own token endpoint (`POST /token`, client credentials, client_secret_basic) issued and has not
   * revoked. A 401 carries `WWW-Authenticate: Bearer resource_metadata=…, scope=…` (RFC 9728), and
   * the metadata is served at `/.well-known/oauth-protected-resource/mcp`.
   */
  oauth?: { clientId: string; clientSecret: string; scope: string };
  /**
   * Also list the tools of newer MCP result features (kept apart so that the basic list stays the same):
   * `rich {}` answers with text, a resource_link, an embedded text resource, an embedded blob and an
   * image, plus structuredContent that no text block repeats; `structured {city}` answers with
   * structuredContent and, as the spec asks, the same JSON as its text block; `ask {}` asks the user
   * a question (form elicitation) and reports the answer or the refusal.
   */
  extras?: boolean;
}

export interface TestMcpServer {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Every `tools/call` that reached the server, in order. */
  calls: Array<{ name: string; args: unknown; meta?: Record<string, unknown> }>;
  /** The tool name of each request a client cancelled with `notifications/cancelled`. */
  cancellations: string[];
  /** Every HTTP request, with its headers, to check what a client sent (including the SSE GET). */
  requests: Array<{ method: string; path: string; headers: IncomingHttpHeaders }>;
  /** How many `tools/list` requests reached the server (pages count one each). */
  listings(): number;
  /** With `oauth`: the token endpoint, the tokens it issued (in order), and a way to revoke them all. */
  tokenUrl: string;
  resourceMetadataUrl: string;
  tokensIssued: string[];
  revokeTokens(): void;
}

/** The JSON-RPC error `fail_protocol` answers with. */
export const FAIL_PROTOCOL_CODE = ErrorCode.InternalError;
export const FAIL_PROTOCOL_MESSAGE = 'fail_protocol: deliberate JSON-RPC error';

/**
 * A real MCP server (the SDK's `McpServer` behind its own HTTP transports) on 127.0.0.1, with tools
 * that exercise every outcome the executor has to handle:
 *
 * - `echo {message}` (readOnlyHint) → `Echo: <message>`
 * - `add {a, b}` (readOnlyHint) → the sum as text
 * - `slow {ms}` sleeps; reports progress every 200 ms when the request carries a progressToken;
 *   stops when cancelled
 * - `crash {}` throws, which the SDK returns as a result with `isError: true`
 * - `fail_protocol {}` answers with a JSON-RPC error
 * - `delete_thing {id}` (destructiveHint), `idempotent_thing {}` (idempotentHint)
 */
export async function startTestMcpServer(opts: TestMcpServerOptions = {}): Promise<TestMcpServer> {
  const mode = opts.transport ?? 'streamable-http';
  const calls: TestMcpServer['calls'] = [];
  const cancellations: string[] = [];
  let listings = 0;
  const requests: TestMcpServer['requests'] = [];
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();
  const servers = new Set<McpServer>();

  /**
   * Watches the messages of one session before the SDK sees them. Two things cannot be done from a
   * tool handler: seeing `notifications/cancelled` as such (a handler's signal also aborts when the
   * connection closes), and answering with a JSON-RPC error (McpServer turns every error a tool
   * throws, McpError included, into an `isError` result).
   */
  function instrument(transport: Transport): void {
    const toolOfRequest = new Map<string | number, string>();
    const listCursors = new Map<string | number, number>();
    const deliver = transport.onmessage;
    transport.onmessage = (message: JSONRPCMessage, extra) => {
      if ('method' in message && message.method === 'tools/list' && 'id' in message) {
        listings++;
        listCursors.set(message.id, Number((message.params as { cursor?: string } | undefined)?.cursor ?? 0));
      }
      if ('method' in message && message.method === 'tools/call' && 'id' in message) {
        const params = (message.params ?? {}) as { name?: unknown; arguments?: unknown; _meta?: Record<string, unknown> };
        const name = typeof params.name === 'string' ? params.name : '';
        toolOfRequest.set(message.id, name);
        calls.push({ name, args: params.arguments ?? {}, ...(params._meta ? { meta: params._meta } : {}) });
        if (name === 'fail_protocol') {
          void transport.send({ jsonrpc: '2.0', id: message.id, error: { code: FAIL_PROTOCOL_CODE, message: FAIL_PROTOCOL_MESSAGE } }, { relatedRequestId: message.id });
          return;
        }
      }
      if ('method' in message && message.method === 'notifications/cancelled') {
        const requestId = (message.params as { requestId?: string | number } | undefined)?.requestId;
        cancellations.push(requestId === undefined ? '' : (toolOfRequest.get(requestId) ?? String(requestId)));
      }
      deliver?.(message, extra);
    };

    const { pageSize } = opts;
    if (pageSize === undefined) return;
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => {
      const start = 'result' in message ? listCursors.get(message.id) : undefined;
      if ('result' in message && start !== undefined) {
        listCursors.delete(message.id);
        const tools = (message.result as { tools: unknown[] }).tools;
        const end = start + pageSize;
        const result = { ...message.result, tools: tools.slice(start, end), ...(end < tools.length ? { nextCursor: String(end) } : {}) };
        return send({ ...message, result }, options);
      }
      return send(message, options);
    };
  }

  async function connectServer(transport: Transport): Promise<void> {
    const server = buildServer();
    servers.add(server);
    await server.connect(transport);
    instrument(transport);
  }

  const tokensIssued: string[] = [];
  const validTokens = new Set<string>();
  let origin = '';

  /** The OAuth side of `opts.oauth`; true when the request was answered here. */
  async function handleOAuth(req: IncomingMessage, res: ServerResponse, path: string, oauth: NonNullable<TestMcpServerOptions['oauth']>): Promise<boolean> {
    if (path === '/.well-known/oauth-protected-resource/mcp') {
      sendJson(res, 200, { resource: `${origin}/mcp`, authorization_servers: [origin], scopes_supported: [oauth.scope] });
      return true;
    }
    if (path === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readText(req));
      const basic = `Basic ${Buffer.from(`${encodeURIComponent(oauth.clientId)}:${encodeURIComponent(oauth.clientSecret)}`).toString('base64')}`;
      if (req.headers.authorization !== basic) {
        sendJson(res, 401, { error: 'invalid_client' });
        return true;
      }
      if (form.get('grant_type') !== 'client_credentials') {
        sendJson(res, 400, { error: 'unsupported_grant_type' });
        return true;
      }
      const token = `tok-${tokensIssued.length + 1}-${randomUUID()}`;
      tokensIssued.push(token);
      validTokens.add(token);
      sendJson(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: form.get('scope') ?? oauth.scope });
      return true;
    }
    const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (presented === undefined || !validTokens.has(presented)) {
      sendJson(
        res,
        401,
        { error: 'invalid_token' },
        {
          'www-authenticate': `Bearer error="invalid_token", resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="${oauth.scope}"`,
        },
      );
      return true;
    }
    return false;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    requests.push({ method: req.method ?? '', path, headers: req.headers });
    if (opts.failWith !== undefined) return sendJson(res, opts.failWith, { error: 'failing on purpose' });
    if (opts.oauth && (await handleOAuth(req, res, path, opts.oauth))) return;
    if (opts.requireAuth !== undefined && req.headers.authorization !== opts.requireAuth) {
      sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer realm="spool-test"' });
      return;
    }
    if (mode === 'streamable-http') await handleStreamable(req, res, path);
    else await handleSse(req, res, path);
  }

  async function handleStreamable(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path !== '/mcp') return sendJson(res, 404, { error: 'not found' });
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = streamable.get(sessionId);
      // The spec's answer to a session the server does not know (e.g. after a restart).
      if (!transport) return sendJson(res, 404, rpcError(-32001, 'Session not found'));
      return transport.handleRequest(req, res, req.method === 'POST' ? await readJson(req) : undefined);
    }
    if (req.method !== 'POST') return sendJson(res, 400, rpcError(-32000, 'Bad Request: no session'));
    const body = await readJson(req);
    if (!isInitializeRequest(body)) return sendJson(res, 400, rpcError(-32000, 'Bad Request: no session'));
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        streamable.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) streamable.delete(transport.sessionId);
    };
    await connectServer(transport);
    await transport.handleRequest(req, res, body);
  }

  async function handleSse(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      sse.set(transport.sessionId, transport);
      res.on('close', () => sse.delete(transport.sessionId));
      await connectServer(transport);
      return;
    }
    // An HTTP+SSE-only server knows nothing of Streamable HTTP: its stream URL refuses a POST.
    if (path === '/sse') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
    if (path === '/messages' && req.method === 'POST') {
      const sessionId = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('sessionId') ?? '';
      const transport = sse.get(sessionId);
      if (!transport) return sendJson(res, 404, { error: 'session not found' });
      return transport.handlePostMessage(req, res, await readJson(req));
    }
    return sendJson(res, 404, { error: 'not found' });
  }

  function buildServer(): McpServer {
    const server = new McpServer({ name: 'spool-test-server', version: '1.0.0' });
    const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

    server.registerTool('echo', { description: 'Echoes the message back', inputSchema: { message: z.string() }, annotations: { readOnlyHint: true } }, async ({ message }) => text(`Echo: ${message}`));
    server.registerTool('add', { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() }, annotations: { readOnlyHint: true } }, async ({ a, b }) => text(String(a + b)));
    server.registerTool('slow', { description: 'Sleeps for ms milliseconds, reporting progress', inputSchema: { ms: z.number().int().min(0) } }, async ({ ms }, extra) => {
      const token = extra._meta?.progressToken;
      const started = Date.now();
      const ticker =
        token === undefined
          ? undefined
          : setInterval(() => {
              const elapsed = Math.min(Date.now() - started, ms);
              extra
                .sendNotification({
                  method: 'notifications/progress',
                  params: { progressToken: token, progress: elapsed, total: ms, message: `slept ${elapsed} ms` },
                })
                .catch(() => undefined);
            }, 200);
      try {
        await sleep(ms, undefined, { signal: extra.signal });
      } finally {
        clearInterval(ticker);
      }
      return text(`Slept ${ms} ms`);
    });
    server.registerTool('crash', { description: 'Always throws' }, async () => {
      throw new Error('crash: the tool failed on purpose');
    });
    // Answered by `instrument` before it gets here; registered so that it is listed.
    server.registerTool('fail_protocol', { description: 'Answers with a JSON-RPC error' }, async () => text('unreachable'));
    server.registerTool(
      'delete_thing',
      {
        description: 'Deletes a thing',
        inputSchema: { id: z.string() },
        annotations: { destructiveHint: true, readOnlyHint: false },
      },
      async ({ id }) => text(`Deleted ${id}`),
    );
    server.registerTool('idempotent_thing', { description: 'Safe to repeat', annotations: { idempotentHint: true, readOnlyHint: false } }, async () => text('done'));
    if (opts.extras) registerExtras(server);
    return server;
  }

  const httpServer = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: `http://127.0.0.1:${port}${mode === 'sse' ? '/sse' : '/mcp'}`,
    port,
    calls,
    cancellations,
    requests,
    listings: () => listings,
    tokenUrl: `${origin}/token`,
    resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource/mcp`,
    tokensIssued,
    revokeTokens: () => validTokens.clear(),
    async close() {
      await Promise.allSettled([...servers].map((s) => s.close()));
      // Open SSE streams would keep close() waiting forever.
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

function registerExtras(server: McpServer): void {
  server.registerTool('rich', { description: 'Answers with every kind of content block', annotations: { readOnlyHint: true } }, async () => ({
    content: [
      { type: 'text' as const, text: 'Found 1 report.' },
      { type: 'resource_link' as const, uri: 'file:///reports/q3.pdf', name: 'q3.pdf', mimeType: 'application/pdf', description: 'The Q3 report' },
      { type: 'resource' as const, resource: { uri: 'file:///notes.txt', mimeType: 'text/plain', text: 'remember the milk' } },
      { type: 'resource' as const, resource: { uri: 'file:///logo.bin', mimeType: 'application/octet-stream', blob: Buffer.from('12345678').toString('base64') } },
      { type: 'image' as const, data: Buffer.from('fake png bytes').toString('base64'), mimeType: 'image/png' },
    ],
    structuredContent: { reports: 1 },
  }));
  server.registerTool('ask', { description: 'Asks the user which environment to use (form elicitation)' }, async () => {
    const answer = await server.server.elicitInput({
      mode: 'form',
      message: 'Which environment should I deploy to?',
      requestedSchema: { type: 'object', properties: { env: { type: 'string' } }, required: ['env'] },
    });
    return { content: [{ type: 'text' as const, text: answer.action === 'accept' ? `Deploying to ${String(answer.content?.env)}` : `No answer (${answer.action}), nothing deployed.` }] };
  });
  server.registerTool(
    'structured',
    {
      description: 'Weather as structured content',
      inputSchema: { city: z.string() },
      outputSchema: { city: z.string(), celsius: z.number() },
      annotations: { readOnlyHint: true },
    },
    async ({ city }) => {
      const weather = { city, celsius: 21 };
      return { content: [{ type: 'text' as const, text: JSON.stringify(weather) }], structuredContent: weather };
    },
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readText(req);
  return text === '' ? undefined : JSON.parse(text);
}
