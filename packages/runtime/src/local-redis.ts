import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { resolve } from 'node:path';

/*
 * The one Redis bootstrap: how `npm start` finds or starts a Redis, and the one redis-server
 * spawner, port finder and PING probe that the test kit and the bench use too.
 */

export interface ResolvedRedis {
  url: string;
  source: 'env' | 'default-port' | 'spawned';
  stop(): Promise<void>;
}

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/** What to do when no Redis is found; `more` adds the caller's own ways (the test kit's Docker). */
export function howToGetRedis(more: string[] = []): string {
  return [
    'Spool needs Redis 6.2 or newer. Either:',
    '  - set REDIS_URL=redis://host:6379 to use a Redis you run, or',
    '  - start one on 127.0.0.1:6379 (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or',
    '  - install redis-server on PATH and Spool starts one itself, or',
    '  - run `docker compose up` with the docker-compose.yml in this repository.',
    ...more.map((m) => `  - ${m}`),
  ].join('\n');
}

/** True when something answers PING with PONG at host:port within the timeout (`-LOADING` is not ready). */
export function pingRedis(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.connect(port, host, () => socket.write('PING\r\n'));
    // The reply may arrive in pieces: read up to its line end.
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? done(addr.port) : fail(new Error('no port'))));
    });
  });
}

export function hasRedisServerBinary(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Polls with raw RESP PINGs rather than a client: a client would add reconnect noise and retry
 * policies of its own. `failure` says why waiting is pointless (the process exited).
 */
export async function waitForPing(url: string, timeoutMs: number, failure: () => string | null = () => null): Promise<void> {
  const { hostname, port } = new URL(url);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failure();
    if (reason) throw new RedisUnavailableError(reason);
    if (await pingRedis(hostname, Number(port || 6379), 1000)) return;
    if (Date.now() > deadline) throw new RedisUnavailableError(`Redis at ${url} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Children still running; killed on process exit so an aborted run leaves no orphans. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
}

export interface RedisProcessOptions {
  port: number;
  dir: string;
  appendOnly: boolean;
  /** `everysec` for `npm start` (as Redis ships); `always` for fault tests that SIGKILL and expect every acknowledged write back. */
  appendFsync?: 'everysec' | 'always';
  /** More redis-server arguments (cluster, replication). */
  extraArgs?: string[];
  /** A config file to start from (redis-server takes it as its first argument: sentinel). */
  configFile?: string | null;
}

/** One `redis-server` on a loopback port: started, killed, restarted on the same port and dir. */
export class RedisServerProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor(private readonly o: RedisProcessOptions) {}

  get port(): number {
    return this.o.port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.o.port}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    const args = ['--port', String(this.o.port), '--bind', '127.0.0.1', '--save', '', '--dir', resolve(this.o.dir)];
    args.push('--appendonly', this.o.appendOnly ? 'yes' : 'no');
    if (this.o.appendOnly) args.push('--appendfsync', this.o.appendFsync ?? 'everysec');
    args.push(...(this.o.extraArgs ?? []));
    if (this.o.configFile) args.unshift(this.o.configFile);
    this.output = '';
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let spawnError: Error | null = null;
    let exitedWith: string | null = null;
    this.exited = new Promise((done) => {
      child.once('error', (err) => {
        spawnError = err;
        done();
      });
      child.once('exit', (code, signal) => {
        exitedWith = signal ?? `code ${code}`;
        done();
      });
    });
    // The pipes must be drained or a chatty server would block on a full pipe; only the tail
    // is kept, for error messages.
    const keep = (buf: Buffer) => {
      this.output = (this.output + buf.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    trackChild(child);
    // A forgotten stop() must not keep the parent alive; the exit hook still kills it.
    child.unref();
    for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

    const failure = (): string | null => {
      if (spawnError) {
        const e = spawnError as NodeJS.ErrnoException;
        return e.code === 'ENOENT' ? 'redis-server is not on PATH' : `cannot start redis-server: ${e.message}`;
      }
      if (exitedWith) return `redis-server exited (${exitedWith}): ${this.output.trim().split('\n').slice(-3).join(' / ')}`;
      return null;
    };
    try {
      await waitForPing(this.url, 15_000, failure);
    } catch (err) {
      await this.terminate();
      throw err;
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGTERM (Redis writes its AOF and exits), SIGKILL after 5 s. */
  async terminate(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    } else {
      await this.exited;
    }
    this.child = null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get addressInUse(): boolean {
    return /address already in use/i.test(this.output);
  }
}

export interface SpawnedRedis {
  url: string;
  port: number;
  /** The server's process id (null once stopped). */
  readonly pid: number | null;
  /** Graceful shutdown (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Sends a signal without waiting; default SIGKILL, i.e. a crash. Use `restart()` to bring it back. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops (if still running) and starts again on the same port and dir. */
  restart(): Promise<void>;
}

/**
 * Starts `redis-server` from PATH on a loopback port. With `appendOnly`, writes go to the
 * append-only file under `dir`, so a restart keeps acknowledged responses. Without `port`, a free
 * port is picked and the start is retried on a bind race with another process.
 */
export async function spawnRedis(opts: Omit<RedisProcessOptions, 'port'> & { port?: number }): Promise<SpawnedRedis> {
  let server: RedisServerProcess | null = null;
  for (let attempt = 0; ; attempt++) {
    const candidate = new RedisServerProcess({ ...opts, port: opts.port ?? (await freePort()) });
    try {
      await candidate.start();
      server = candidate;
      break;
    } catch (err) {
      if (opts.port === undefined && candidate.addressInUse && attempt < 5) continue;
      throw err;
    }
  }
  const proc = server;
  let stopped: Promise<void> | undefined;
  return {
    url: proc.url,
    port: proc.port,
    get pid() {
      return proc.pid;
    },
    kill: (signal = 'SIGKILL') => proc.kill(signal),
    restart: async () => {
      await proc.terminate();
      await proc.start();
    },
    stop: () => (stopped ??= proc.terminate()),
  };
}

/**
 * Finds Redis for `npm start`: REDIS_URL when set; else a Redis already answering on
 * 127.0.0.1:6379; else a redis-server from PATH started under `<dataDir>/redis` with the
 * append-only file on (stopped with the process); else an error that says how to get one.
 */
export async function resolveRedis(redisUrl: string | null, dataDir: string): Promise<ResolvedRedis> {
  const noop = async () => undefined;
  if (redisUrl) return { url: redisUrl, source: 'env', stop: noop };
  if (await pingRedis('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', source: 'default-port', stop: noop };
  if (!hasRedisServerBinary()) throw new RedisUnavailableError(`No Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 and redis-server is not on PATH.\n${howToGetRedis()}`);
  let spawned: SpawnedRedis;
  try {
    spawned = await spawnRedis({ dir: resolve(dataDir, 'redis'), appendOnly: true, appendFsync: 'everysec' });
  } catch (err) {
    throw new RedisUnavailableError(`${err instanceof Error ? err.message : String(err)}\n${howToGetRedis()}`);
  }
  return { url: spawned.url, source: 'spawned', stop: spawned.stop };
}
