import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { resolve } from 'node:path';

export interface ResolvedRedis {
  url: string;
  source: 'env' | 'default-port' | 'spawned';
  stop(): Promise<void>;
}

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

const HOW_TO_GET_REDIS = [
  'Spool needs Redis 6.2 or newer. Either:',
  '  - set REDIS_URL=redis://host:6379 to use a Redis you run, or',
  '  - start one on 127.0.0.1:6379 (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or',
  '  - install redis-server on PATH and Spool starts one itself under .data/redis, or',
  '  - run `docker compose up` with the docker-compose.yml in this repository.',
].join('\n');

/** True when something answers PING with PONG at host:port within the timeout. */
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

export interface SpawnedRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` from PATH on a loopback port. With `appendOnly`, writes go to the
 * append-only file under `dir`, so a restart keeps acknowledged responses.
 */
export async function spawnRedis(opts: { dir: string; appendOnly: boolean; port?: number }): Promise<SpawnedRedis> {
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', resolve(opts.dir), '--save', '', '--appendonly', opts.appendOnly ? 'yes' : 'no', '--appendfsync', 'everysec'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 100; i++) {
    if (await pingRedis('127.0.0.1', port, 200)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        process: child,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new RedisUnavailableError(`redis-server did not start on port ${port}.\n${HOW_TO_GET_REDIS}`);
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
  if (!hasRedisServerBinary()) throw new RedisUnavailableError(`No Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 and redis-server is not on PATH.\n${HOW_TO_GET_REDIS}`);
  const spawned = await spawnRedis({ dir: resolve(dataDir, 'redis'), appendOnly: true });
  return { url: spawned.url, source: 'spawned', stop: spawned.stop };
}
