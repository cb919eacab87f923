import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordingProxy {
  /** The proxy's URL for the target's path (e.g. `http://127.0.0.1:<port>/mcp`). */
  url: string;
  /** Every `tools/call` that passed through, by tool name, in order. */
  calls: Array<{ name: string; args: unknown }>;
  close(): Promise<void>;
}

/**
 * A transparent HTTP proxy in front of a real MCP server (e.g. server-everything over Streamable
 * HTTP) that records the `tools/call` requests going through it, so a test can prove that a tool
 * was, or was not, called on a server that keeps no such record itself. Bodies are forwarded
 * unchanged and answers (JSON or SSE) are streamed back as they come.
 */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const calls: RecordingProxy['calls'] = [];
  const record = (body: Buffer) => {
    if (body.length === 0) return;
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
        const msg = m as { method?: unknown; params?: { name?: unknown; arguments?: unknown } };
        if (msg?.method === 'tools/call') calls.push({ name: String(msg.params?.name), args: msg.params?.arguments });
      }
    } catch {
      // Not JSON: nothing to record, forwarded as is.
    }
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      record(body);
      const { host: _host, 'content-length': _len, ...headers } = req.headers;
      const out = httpRequest({ hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...headers, 'content-length': String(body.length) } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      res.on('close', () => out.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
