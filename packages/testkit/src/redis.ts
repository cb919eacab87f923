import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
// One Redis bootstrap for the whole project: the runtime's spawner, port finder, probe and help text.
import { freePort, howToGetRedis, RedisServerProcess, spawnRedis, waitForPing, type SpawnedRedis } from '@spool/runtime';

export interface ProvidedRedis {
  url: string;
  stop(): Promise<void>;
  source: 'env' | 'testcontainers' | 'spawned';
}

export type { SpawnedRedis };

export interface SpawnRedisOptions {
  /** Enable the AOF so data survives `restart()`, including after `kill()`. */
  appendOnly?: boolean;
  /** Data dir; by default a fresh temp dir, deleted by `stop()`. */
  dir?: string;
  port?: number;
}

const REDIS_IMAGE = 'redis:7-alpine';

const HOW_TO_GET_REDIS = howToGetRedis([`for the tests: run a Docker engine and \`npm install -D testcontainers\` (a ${REDIS_IMAGE} container is started)`]);

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

/**
 * Starts a private `redis-server` on a loopback port. Without `port`, a free port is picked and
 * the start is retried on a bind race with another process.
 */
export async function spawnRedisServer(opts: SpawnRedisOptions = {}): Promise<SpawnedRedis> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'spool-redis-')));
  // Fault tests SIGKILL the server and expect acknowledged writes back after restart; the
  // default everysec fsync could lose the last second of them.
  const spawned = await spawnRedis({ dir, appendOnly: opts.appendOnly ?? false, appendFsync: 'always', ...(opts.port !== undefined ? { port: opts.port } : {}) }).catch(async (err: unknown) => {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw err;
  });
  let stopped: Promise<void> | undefined;
  return {
    url: spawned.url,
    port: spawned.port,
    get pid() {
      return spawned.pid;
    },
    kill: (signal) => spawned.kill(signal),
    restart: () => spawned.restart(),
    stop: () =>
      (stopped ??= (async () => {
        await spawned.stop();
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })()),
  };
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster

export interface ClusterNode {
  host: string;
  port: number;
}

export interface SpawnedRedisCluster {
  /** Every node (masters and replicas), as seed nodes for a client. */
  nodes: ClusterNode[];
  /** The same, as REDIS_CLUSTER_NODES wants it: `127.0.0.1:7000,127.0.0.1:7001,…`. */
  nodesEnv: string;
  /** The port of the master currently serving `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** Crashes one node (SIGKILL by default); its replica, if any, is promoted by the cluster. */
  kill(port: number, signal?: NodeJS.Signals): void;
  /** Resolves once every slot is served again (after a kill, by a promoted replica). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  masters?: number;
  /** Replicas per master; 1 or more lets a test kill a master and see its replica take over. */
  replicasPerMaster?: number;
}

/** Runs `redis-cli` and returns its stdout; rejects with its output when it fails. */
function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.once('error', reject);
    // 'close', not 'exit': the output may still be in the pipe when the process has exited.
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${args.join(' ')} failed (${code}): ${out.trim()}`))));
  });
}

/**
 * Starts a Redis Cluster of `masters` masters (3 by default, the smallest Redis accepts) plus
 * `replicasPerMaster` replicas each, from `redis-server --cluster-enabled yes` on free loopback
 * ports in a temp dir, joined by `redis-cli --cluster create`. The node timeout is short (1 s) so
 * a killed master's replica takes over within a few seconds. `stop()` ends every node and
 * removes the dir.
 */
export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<SpawnedRedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 0;
  const root = await mkdtemp(join(tmpdir(), 'spool-cluster-'));
  const procs = new Map<number, RedisServerProcess>();
  const stop = async () => {
    await Promise.all([...procs.values()].map((p) => p.terminate()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      for (let attempt = 0; ; attempt++) {
        const port = await freePort();
        const busPort = await freePort();
        const dir = join(root, String(port));
        await mkdir(dir, { recursive: true });
        const proc = new RedisServerProcess({
          port,
          dir,
          appendOnly: false,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            '1000',
            // A replica may take over however long it was cut off: tests kill masters on purpose.
            '--cluster-replica-validity-factor',
            '0',
          ],
        });
        try {
          await proc.start();
          procs.set(port, proc);
          break;
        } catch (err) {
          if (proc.addressInUse && attempt < 5) continue;
          throw err;
        }
      }
    }
    const ports = [...procs.keys()];
    await redisCli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
    const live = () => [...procs.entries()].filter(([, p]) => p.running).map(([port]) => port);
    const waitHealthy = async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(live().map((port) => redisCli(['-p', String(port), 'cluster', 'info']).catch(() => '')));
        const slots = await redisCli(['-p', String(live()[0]), 'cluster', 'slots']).catch(() => '');
        if (states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s)) && slots !== '') return;
        if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms:\n${states.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitHealthy();
    if (replicas > 0) {
      // A replica can only take over once it has synced with its master.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const infos = await Promise.all(ports.map((port) => redisCli(['-p', String(port), 'info', 'replication'])));
        const replicaInfos = infos.filter((i) => /role:slave/.test(i));
        if (replicaInfos.length === masters * replicas && replicaInfos.every((i) => /master_link_status:up/.test(i))) break;
        if (Date.now() > deadline) throw new Error('Redis Cluster replicas did not sync');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return {
      nodes,
      nodesEnv: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      masterOf: async (key) => {
        const port = String(live()[0]);
        const slot = Number((await redisCli(['-p', port, 'cluster', 'keyslot', key])).trim());
        // `cluster shards` would be neater but is Redis 7+; `cluster nodes` lists each master's ranges.
        const table = await redisCli(['-p', port, 'cluster', 'nodes']);
        for (const line of table.trim().split('\n')) {
          const [, address, flags, , , , , , ...ranges] = line.split(' ');
          if (!flags?.includes('master') || flags.includes('fail')) continue;
          for (const r of ranges) {
            const [lo, hi] = r.split('-').map(Number);
            if (lo !== undefined && slot >= lo && slot <= (hi ?? lo)) return Number(address?.split('@')[0]?.split(':')[1]);
          }
        }
        throw new Error(`no master serves slot ${slot}:\n${table}`);
      },
      kill: (port, signal = 'SIGKILL') => procs.get(port)?.kill(signal),
      waitHealthy,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface SpawnedSentinelSetup {
  /** The Sentinels, as a client's `sentinels` option wants them. */
  sentinels: ClusterNode[];
  /** The name the Sentinels know the master by. */
  name: string;
  /** The port of the node that is master now, as the Sentinels report it. */
  masterPort(): Promise<number>;
  /** Crashes a node (SIGKILL by default); the Sentinels promote the replica. */
  kill(port: number, signal?: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/**
 * A master, one replica and one Sentinel watching them (quorum 1, a node is down after 1 s), from
 * `redis-server` on free loopback ports in a temp dir. `stop()` ends all three.
 */
export async function startRedisSentinel(): Promise<SpawnedSentinelSetup> {
  const root = await mkdtemp(join(tmpdir(), 'spool-sentinel-'));
  const procs = new Map<number, RedisServerProcess>();
  const stop = async () => {
    await Promise.all([...procs.values()].map((p) => p.terminate()));
    await rm(root, { recursive: true, force: true });
  };
  const name = 'spool-master';
  try {
    const start = async (extra: (port: number, dir: string) => string[]) => {
      const port = await freePort();
      const dir = join(root, String(port));
      await mkdir(dir, { recursive: true });
      const proc = new RedisServerProcess({ port, dir, appendOnly: false, extraArgs: extra(port, dir) });
      await proc.start();
      procs.set(port, proc);
      return port;
    };
    const master = await start(() => []);
    await start(() => ['--replicaof', '127.0.0.1', String(master)]);
    const sentinelPort = await freePort();
    const dir = join(root, 'sentinel');
    await mkdir(dir, { recursive: true });
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 3000`,
        '',
      ].join('\n'),
    );
    // RedisServerProcess starts `redis-server --port … <extra>`; a config file must come first, so the
    // Sentinel is its own child here.
    const sentinel = new RedisServerProcess({ port: sentinelPort, dir, appendOnly: false, extraArgs: ['--sentinel'], configFile: conf });
    await sentinel.start();
    procs.set(sentinelPort, sentinel);
    const masterPort = async () => {
      const out = await redisCli(['-p', String(sentinelPort), 'sentinel', 'get-master-addr-by-name', name]);
      return Number(out.trim().split('\n')[1]);
    };
    // The Sentinel must have found the replica before it can promote it.
    const deadline = Date.now() + 30_000;
    while (!/num-slaves\n1/.test(await redisCli(['-p', String(sentinelPort), 'sentinel', 'master', name]).catch(() => ''))) {
      if (Date.now() > deadline) throw new Error('the Sentinel did not find the replica');
      await new Promise((r) => setTimeout(r, 100));
    }
    return { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name, masterPort, kill: (port, signal = 'SIGKILL') => procs.get(port)?.kill(signal), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Whether `redis-server` and `redis-cli` are on PATH (a cluster can be started). */
export function hasRedisClusterTools(): boolean {
  const ok = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  return ok('redis-server') && ok('redis-cli');
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
 * cleanup is scoped by SCAN + UNLINK and never FLUSHALL/FLUSHDB. On a cluster every master is
 * scanned, and keys are unlinked one by one (each may live in another slot).
 */
export async function deleteByPrefix(target: string | { cluster: ClusterNode[] }, prefix: string): Promise<void> {
  if (prefix === '') throw new Error('deleteByPrefix: refusing an empty prefix (it would delete every key)');
  if (typeof target !== 'string') {
    const cluster = new Cluster(target.cluster, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 3 } });
    cluster.on('error', () => {});
    try {
      await cluster.connect();
      for (const node of cluster.nodes('master')) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
          cursor = next;
          await Promise.all(keys.map((k) => cluster.unlink(k)));
        } while (cursor !== '0');
      }
    } finally {
      cluster.disconnect();
    }
    return;
  }
  const redis = new Redis(target, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
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
