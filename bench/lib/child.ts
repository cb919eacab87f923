import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The bench runs each server (fixtures, Spool) in its own Node process, spoken to over IPC:
 * the parent sends `{id, cmd}` and the child answers `{id, result}` or `{id, error}`; the child
 * announces itself with `{ready: …}` once listening. TypeScript entries run through tsx.
 */
export interface BenchChild<Ready> {
  pid: number;
  ready: Ready;
  request<T>(cmd: string, timeoutMs?: number): Promise<T>;
  /** Asks the child to close and exit (so a `--cpu-prof` profile gets written), then kills it. */
  stop(timeoutMs?: number): Promise<void>;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export async function forkTs<Ready>(entry: string, opts: { env: Record<string, string>; execArgv?: string[]; logFile: string; readyTimeoutMs?: number }): Promise<BenchChild<Ready>> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = openSync(opts.logFile, 'w');
  const child: ChildProcess = fork(entry, [], {
    execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
    // Only what the child needs: the bench decides its whole configuration.
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pending = new Map<number, Pending>();
  let nextId = 0;
  child.on('message', (raw) => {
    const msg = raw as { id?: number; result?: unknown; error?: string };
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new Error(msg.error));
    else p.resolve(msg.result);
  });
  void exited.then(() => {
    for (const p of pending.values()) p.reject(new Error(`${entry} exited`));
    pending.clear();
  });

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} not ready after ${opts.readyTimeoutMs ?? 30_000} ms (see ${opts.logFile})`)), opts.readyTimeoutMs ?? 30_000);
    const onMessage = (raw: unknown) => {
      const msg = raw as { ready?: Ready };
      if (msg.ready === undefined) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(msg.ready);
    };
    child.on('message', onMessage);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited before it was ready (see ${opts.logFile})`));
    });
  }).catch(async (err) => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    throw err;
  });

  const request = <T>(cmd: string, timeoutMs = 30_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${entry}: '${cmd}' not answered in ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ id, cmd });
    });

  return {
    pid: child.pid as number,
    ready,
    request,
    stop: async (timeoutMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ id: -1, cmd: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The child side: answers the parent's commands. `close` is always understood: it runs `onClose`
 * (bounded by the caller) and exits with code 0, which is when V8 writes a `--cpu-prof` profile.
 */
export function serveParent(handlers: Record<string, () => Promise<unknown> | unknown>, onClose: () => Promise<void>): void {
  process.on('message', (raw) => {
    const msg = raw as { id: number; cmd: string };
    if (msg.cmd === 'close') {
      void onClose()
        .catch((err) => console.error('close failed', err))
        .finally(() => process.exit(0));
      return;
    }
    const handler = handlers[msg.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command '${msg.cmd}'`);
        return handler();
      })
      .then(
        (result) => process.send?.({ id: msg.id, result }),
        (err: unknown) => process.send?.({ id: msg.id, error: (err as Error).message ?? String(err) }),
      );
  });
  // The parent going away (crash, Ctrl-C) must not leave servers behind.
  process.on('disconnect', () => process.exit(0));
}

/** What a child reports about its memory. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Memory after a full GC when the process runs with `--expose-gc`. */
export function memorySample(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}
