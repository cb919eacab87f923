import { createServer, type Socket } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it). Another process could take
 * it before it is used; callers that start a server on it retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read the free port'))));
    });
  });
}

/**
 * An MCP URL where nothing listens: a loopback port that was just free. Connecting is refused at
 * once (no timeout to wait for) and no packet leaves the machine.
 */
export async function unreachableUrl(path = '/mcp'): Promise<string> {
  return `http://127.0.0.1:${await freePort()}${path}`;
}

/**
 * A loopback server that accepts connections and never answers: what a hung MCP server looks like
 * to a client (connect and request timeouts, cancelling while connecting).
 */
export async function startSilentServer(path = '/mcp'): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
