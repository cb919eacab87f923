import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@spool/runtime';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SpoolProcess {
  child: ChildProcess;
  url: string | null;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Waits until a Spool at `url` answers /readyz; a timeout says so with the process's output. */
export async function waitForReadyz(url: string, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`spool at ${url} not ready within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts Spool as `npm start` does (tsx on services/spool/src/main.ts) in a child process with
 * the roles given, and waits until it is ready: /readyz for the api role, the start-up line else.
 */
export async function startSpoolProcess(env: Record<string, string>, roles: string): Promise<SpoolProcess> {
  const port = roles.includes('api') ? await freePort() : 0;
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/spool/src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', SPOOL_WORKERS: '0', ...env, SPOOL_ROLES: roles, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = roles.includes('api') ? `http://127.0.0.1:${port}` : null;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`spool process exited early:\n${out}`);
    if (url) {
      const ok = await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
    } else if (out.includes('Spool worker process running')) break;
    if (Date.now() > deadline) throw new Error(`spool process not ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    url,
    output: () => out,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
