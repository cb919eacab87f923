import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface ProvidedRedis {
  url: string;
  stop(): Promise<void>;
  source: 'env' | 'testcontainers' | 'spawned';
}

export interface SpawnedRedis {
  url: string;
  port: number;
  /** Graceful shutdown (SIGTERM, then SIGKILL), and removal of the data dir if it was created here. */
  stop(): Promise<void>;
  /** Sends a signal without waiting; default SIGKILL, i.e. a crash. Use `restart()` to bring it back. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops (if still running) and starts again on the same port and dir. */
  restart(): Promise<void>;
}

export interface SpawnRedisOptions {
  /** Enable the AOF so data survives `restart()`, including after `kill()`. */
  appendOnly?: boolean;
  /** Data dir; by default a fresh temp dir, deleted by `stop()`. */
  dir?: string;
  port?: number;
}

const REDIS_IMAGE = 'redis:7-alpine';

const HOW_TO_GET_REDIS = [
  'No Redis available for Spool. Do one of:',
  '  - set REDIS_URL to a Redis you own, e.g. REDIS_URL=redis://127.0.0.1:6379',
  '  - install redis-server so it is on PATH (apt-get install redis-server / brew install redis)',
  `  - run a Docker engine and \`npm install -D testcontainers\` (a ${REDIS_IMAGE} container is started)`,
].join('\n');

/**
 * Resolves a Redis: REDIS_URL if set, else a testcontainers container when a Docker engine
 * answers, else a `redis-server` spawned from PATH. Every fallback failure is kept so that the
 * final error explains why each option was skipped.
 */
export async function provideRedis(opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ProvidedRedis> {
  const env = opts.env ?? process.env;
  const fromEnv = env.REDIS_URL?.trim();
  if (fromEnv) {
    // Not ours to stop: it is shared with whoever configured it.
    return { url: fromEnv, source: 'env', stop: async () => {} };
  }

  const skipped: string[] = [];
  const docker = await dockerEngineAnswers(env);
  if (docker) {
    try {
      return await startContainer();
    } catch (err) {
      skipped.push(`testcontainers: ${errorMessage(err)}`);
    }
  } else {
    skipped.push('testcontainers: no Docker engine answered (DOCKER_HOST or /var/run/docker.sock)');
  }

  try {
    const server = await spawnRedisServer();
    return { url: server.url, source: 'spawned', stop: () => server.stop() };
  } catch (err) {
    skipped.push(`redis-server: ${errorMessage(err)}`);
  }
  throw new Error(`${HOW_TO_GET_REDIS}\nTried:\n${skipped.map((s) => `  - ${s}`).join('\n')}`);
}

// ---------------------------------------------------------------------------------------------
// Docker / testcontainers

/**
 * A cheap probe so that machines without Docker never pay for importing testcontainers or for
 * its own (slow, noisy) engine discovery.
 */
export async function dockerEngineAnswers(env: NodeJS.ProcessEnv = process.env, timeoutMs = 1000): Promise<boolean> {
  const host = env.DOCKER_HOST?.trim();
  if (host) {
    if (host.startsWith('unix://')) return pingDockerSocket(host.slice('unix://'.length), timeoutMs);
    if (host.startsWith('tcp://') || host.startsWith('http://') || host.startsWith('https://')) {
      try {
        const u = new URL(host.replace(/^tcp:/, 'http:'));
        const defaultPort = env.DOCKER_TLS_VERIFY ? 2376 : 2375;
        // A TCP connect is enough: a TLS endpoint would not answer a plain HTTP ping anyway.
        return tcpConnects(u.hostname, Number(u.port || defaultPort), timeoutMs);
      } catch {
        return false;
      }
    }
    return false;
  }
  const sockets = ['/var/run/docker.sock', join(homedir(), '.docker', 'run', 'docker.sock')];
  for (const path of sockets) {
    if (existsSync(path) && (await pingDockerSocket(path, timeoutMs))) return true;
  }
  return false;
}

function pingDockerSocket(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpConnects(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The slice of the testcontainers API used here; typed locally so the package stays optional. */
interface TestcontainersModule {
  GenericContainer: new (image: string) => {
    withExposedPorts(...ports: number[]): {
      start(): Promise<{ getHost(): string; getMappedPort(port: number): number; stop(): Promise<unknown> }>;
    };
  };
}

async function startContainer(): Promise<ProvidedRedis> {
  // A non-literal specifier keeps tsc and vite from resolving a package that may be absent.
  const specifier = 'testcontainers';
  let mod: TestcontainersModule;
  try {
    mod = (await import(/* @vite-ignore */ specifier)) as TestcontainersModule;
  } catch {
    throw new Error('the testcontainers package is not installed (npm install -D testcontainers)');
  }
  const container = await new mod.GenericContainer(REDIS_IMAGE).withExposedPorts(6379).start();
  const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  try {
    // The mapped port can accept connections before Redis itself is ready.
    await waitForPing(url, 30_000, () => null);
  } catch (err) {
    await container.stop().catch(() => {});
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    source: 'testcontainers',
    stop: () => (stopped ??= container.stop().then(() => undefined)),
  };
}

// ---------------------------------------------------------------------------------------------
// redis-server

/** Children still running; killed on process exit so an aborted test run leaves no orphans. */
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not allocate a port'))));
    });
  });
}

class RedisProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly appendOnly: boolean,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir];
    args.push('--appendonly', this.appendOnly ? 'yes' : 'no');
    // Fault tests SIGKILL the server and expect acknowledged writes back after restart; the
    // default everysec fsync could lose the last second of them.
    if (this.appendOnly) args.push('--appendfsync', 'always');
    this.output = '';
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let spawnError: Error | null = null;
    let exitedWith: string | null = null;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitedWith = signal ?? `code ${code}`;
        resolve();
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
    // A forgotten stop() must not keep the test process alive; the exit hook still kills it.
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

  get addressInUse(): boolean {
    return /address already in use/i.test(this.output);
  }
}

/**
 * Starts a private `redis-server` on a loopback port. Without `port`, a free port is picked and
 * the start is retried on a bind race with another process.
 */
export async function spawnRedisServer(opts: SpawnRedisOptions = {}): Promise<SpawnedRedis> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'spool-redis-')));
  const appendOnly = opts.appendOnly ?? false;

  let proc: RedisProcess | null = null;
  for (let attempt = 0; ; attempt++) {
    const candidate = new RedisProcess(opts.port ?? (await freePort()), dir, appendOnly);
    try {
      await candidate.start();
      proc = candidate;
      break;
    } catch (err) {
      if (opts.port === undefined && candidate.addressInUse && attempt < 5) continue;
      if (ownDir) await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  const server = proc;
  let stopped: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    kill: (signal = 'SIGKILL') => server.kill(signal),
    restart: async () => {
      await server.terminate();
      await server.start();
    },
    stop: () =>
      (stopped ??= (async () => {
        await server.terminate();
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })()),
  };
}

/**
 * Polls with raw RESP PINGs rather than a client: a client would add reconnect noise and retry
 * policies of its own. `-LOADING` (AOF replay after restart) counts as not ready yet.
 */
async function waitForPing(url: string, timeoutMs: number, failure: () => string | null): Promise<void> {
  const { hostname, port } = new URL(url);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failure();
    if (reason) throw new Error(reason);
    if (await pingOnce(hostname, Number(port || 6379))) return;
    if (Date.now() > deadline) throw new Error(`Redis at ${url} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function pingOnce(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (buf) => {
      reply += buf.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Key hygiene

/**
 * A per-test namespace usable both as a key prefix and as a BullMQ prefix: only characters that
 * need no quoting anywhere, and no braces (which Redis Cluster would read as a hash tag).
 */
export function uniquePrefix(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'test';
  return `t:${safe}:${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** Escapes SCAN MATCH glob metacharacters so the prefix is matched literally. */
function globEscape(s: string): string {
  return s.replace(/[\\*?[\]]/g, '\\$&');
}

/**
 * Deletes the keys under one prefix. Tests share a Redis (possibly a developer's own), so
 * cleanup is scoped by SCAN + UNLINK and never FLUSHALL/FLUSHDB.
 */
export async function deleteByPrefix(redisUrl: string, prefix: string): Promise<void> {
  if (prefix === '') throw new Error('deleteByPrefix: refusing an empty prefix (it would delete every key)');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
  redis.on('error', () => {}); // surfaced through the rejected commands instead
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
