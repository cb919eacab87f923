import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from './ports.ts';

export type EverythingTransport = 'streamable-http' | 'sse' | 'stdio';

export interface EverythingServer {
  transport: EverythingTransport;
  /** For the HTTP transports: `http://127.0.0.1:<port>/mcp` (Streamable HTTP) or `.../sse`. */
  url?: string;
  /** For stdio: how to spawn it (the MCP client spawns it, one process per session). */
  stdio?: { command: string; args: string[]; env: Record<string, string> };
  close(): Promise<void>;
}

/**
 * The MCP project's reference server, `@modelcontextprotocol/server-everything` (a root
 * devDependency). Its CLI takes the transport as first argument (`stdio` | `sse` |
 * `streamableHttp`) and the HTTP port from `PORT`; paths are `/mcp` for Streamable HTTP and `/sse`
 * (+ `/message`) for HTTP+SSE. Tools this version (2026.8.31) registers for every client include
 * `echo`, `get-sum` and `trigger-long-running-operation` (see `EVERYTHING_TOOLS`).
 */
export async function startEverything(transport: EverythingTransport): Promise<EverythingServer> {
  const bin = everythingBin();
  if (transport === 'stdio') {
    return {
      transport,
      stdio: { command: process.execPath, args: [bin, 'stdio'], env: {} },
      close: async () => undefined,
    };
  }

  const arg = transport === 'sse' ? 'sse' : 'streamableHttp';
  let lastError: unknown;
  // freePort() only says the port was free a moment ago; another process may win the race.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', LOOPBACK_ONLY, bin, arg], {
      // A minimal environment: the server's `get-env` tool hands its environment to any client.
      env: { PATH: process.env.PATH ?? '', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child);
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    try {
      await waitForPort(port, child, 15_000);
    } catch (error) {
      process.off('exit', killOnExit);
      await stop(child);
      lastError = new Error(`server-everything ${arg} did not start: ${String(error)}\n${output()}`);
      if (output().includes('EADDRINUSE')) continue;
      throw lastError;
    }
    return {
      transport,
      url: `http://127.0.0.1:${port}${transport === 'sse' ? '/sse' : '/mcp'}`,
      async close() {
        process.off('exit', killOnExit);
        await stop(child);
      },
    };
  }
  throw lastError;
}

/**
 * The tools server-everything 2026.8.31 lists for a client that declares (form) elicitation, as
 * Spool's does, and not sampling or roots (those tools are registered only for clients that declare
 * them): `trigger-elicitation-request` is the elicitation one.
 * `simulate-research-query` is registered after `initialize` and declares
 * `execution.taskSupport: "required"`: a plain `tools/call` of it is refused.
 */
export const EVERYTHING_TOOLS = [
  'echo',
  'get-annotated-message',
  'get-env',
  'get-resource-links',
  'get-resource-reference',
  'get-structured-content',
  'get-sum',
  'get-tiny-image',
  'gzip-file-as-resource',
  'toggle-simulated-logging',
  'toggle-subscriber-updates',
  'trigger-elicitation-request',
  'trigger-long-running-operation',
  'simulate-research-query',
] as const;

const LOOPBACK_ONLY = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), 'loopback-only.mjs')).href;

function everythingBin(): string {
  const pkgPath = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['mcp-server-everything'];
  if (!bin) throw new Error('server-everything declares no mcp-server-everything bin');
  return resolve(dirname(pkgPath), bin);
}

/** Keeps the last few KB of the child's output for error messages (and keeps the pipes drained). */
function collectOutput(child: ChildProcess): () => string {
  let text = '';
  const append = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-8_192);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => text;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
