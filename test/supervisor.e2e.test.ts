import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@spool/runtime';
import { uniquePrefix } from '@spool/testkit';
import { deleteTestData, redisEnv, testRedisTarget, until, untilTerminal } from './support/spool.ts';
import { waitForReadyz } from './support/processes.ts';

/**
 * `npm start` as a supervisor of real processes: an api process that runs no model turns,
 * SPOOL_WORKERS worker processes serving the demo model, a crashed child started again, and
 * SIGTERM draining them all.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = `${uniquePrefix('supervisor')}:`;
let parent: ChildProcess | null = null;
afterAll(async () => {
  if (parent && parent.exitCode === null) parent.kill('SIGKILL');
  await deleteTestData(testRedisTarget(), prefix);
});

/**
 * The Spool children of a process, by pid, with the roles each was given (read from /proc);
 * other children (tsx's esbuild service) have no SPOOL_ROLES and are left out.
 */
function childrenOf(pid: number): Array<{ pid: number; roles: string | null }> {
  const out = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => p > 0)
    .map((p) => {
      let roles: string | null = null;
      try {
        const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
        roles = env.find((e) => e.startsWith('SPOOL_ROLES='))?.slice('SPOOL_ROLES='.length) ?? null;
      } catch {
        // exited meanwhile
      }
      return { pid: p, roles };
    })
    .filter((c) => c.roles !== null);
}

describe.skipIf(!existsSync('/proc/self/environ'))('npm start with SPOOL_WORKERS', () => {
  it('runs an api process and N worker processes on the demo model, restarts a crashed one, and drains all on SIGTERM', async () => {
    const port = await freePort();
    // No upstream configured: the demo model, which the api process must accept without running it.
    parent = spawn(process.execPath, ['--import', 'tsx', 'services/spool/src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...redisEnv(), SPOOL_PREFIX: prefix, SPOOL_WORKERS: '2', PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    parent.stdout?.on('data', (d) => (out += d));
    parent.stderr?.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => parent!.once('exit', (code) => r(code)));
    const pid = parent.pid as number;
    const url = `http://127.0.0.1:${port}`;
    await waitForReadyz(url, () => out);
    await until(async () => childrenOf(pid).filter((c) => c.roles === 'llm,mcp').length === 2, 30_000, 100);

    const children = childrenOf(pid);
    expect(children.map((c) => c.roles).sort()).toEqual(['api', 'llm,mcp', 'llm,mcp']);
    // The workers yield the CPU to the api (SPOOL_WORKER_NICE, 10 by default); the api keeps the parent's priority.
    const base = getPriority(pid);
    const lowered = Math.min(19, base + 10);
    expect(children.map((c) => [c.roles, getPriority(c.pid)]).sort()).toEqual([
      ['api', base],
      ['llm,mcp', lowered],
      ['llm,mcp', lowered],
    ]);

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const sync = await client.responses.create({ model: 'demo', input: 'Say hello' });
    expect(sync.status).toBe('completed');
    expect(sync.output_text).toMatch(/^Hello! You said: Say hello/);
    // Answered by the api process (roles: api, no model turns), finished by a worker process.
    const background = await client.responses.create({ model: 'demo', input: '!words 20', background: true });
    expect(background.status).toBe('queued');
    expect((await untilTerminal(client, background.id)).output_text.split(' ')).toHaveLength(20);

    const victim = children.find((c) => c.roles === 'llm,mcp')!;
    process.kill(victim.pid, 'SIGKILL');
    await until(
      async () => {
        const now = childrenOf(pid).filter((c) => c.roles === 'llm,mcp');
        return now.length === 2 && !now.some((c) => c.pid === victim.pid);
      },
      30_000,
      100,
    );
    const again = await client.responses.create({ model: 'demo', input: '!words 5' });
    expect(again.output_text.split(' ')).toHaveLength(5);

    const before = childrenOf(pid).map((c) => c.pid);
    parent.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const p of before) expect(existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z ')).toBe(false);
  }, 120_000);
});
