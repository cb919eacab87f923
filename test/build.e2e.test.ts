import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@spool/runtime';
import { uniquePrefix } from '@spool/testkit';
import { deleteTestData, redisEnv, testRedisTarget, until } from './support/spool.ts';
import { waitForReadyz } from './support/processes.ts';

/**
 * The compiled build: `npm run build` emits one JavaScript bundle that plain `node` runs (no
 * tsx), needing only the production dependencies, as the container image runs it.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the repository, so the bundle's bare imports resolve from its node_modules like dist/'s.
const outdir = join(ROOT, 'node_modules', '.cache', `spool-build-test-${randomBytes(4).toString('hex')}`);
const prefix = `${uniquePrefix('build')}:`;
afterAll(async () => {
  rmSync(outdir, { recursive: true, force: true });
  await deleteTestData(testRedisTarget(), prefix);
});

describe('npm run build', () => {
  it('emits a bundle that imports only production dependencies and runs under plain node, supervised, on the demo model', async () => {
    const { build, productionDependencies } = (await import(pathToFileURL(join(ROOT, 'scripts', 'build.mjs')).href)) as {
      build: (dir: string) => Promise<string[]>;
      productionDependencies: () => string[];
    };
    const externals = await build(outdir);
    // What the root and the workspace packages declare as dependencies (the image installs those).
    const dependencies = productionDependencies();
    const packageOf = (spec: string) =>
      spec
        .split('/')
        .slice(0, spec.startsWith('@') ? 2 : 1)
        .join('/');
    for (const spec of externals) expect(dependencies, spec).toContain(packageOf(spec));
    expect(externals.some((s) => s.startsWith('@spool/'))).toBe(false);
    const bundle = readFileSync(join(outdir, 'spool.js'), 'utf8');
    expect(bundle).not.toMatch(/from ["']@spool\//);

    const port = await freePort();
    const child = spawn(process.execPath, [join(outdir, 'spool.js')], {
      cwd: ROOT,
      // No tsx anywhere: execArgv is empty, so the supervised child runs the bundle too.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...redisEnv(), SPOOL_PREFIX: prefix, SPOOL_WORKERS: '1', PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForReadyz(url, () => out);
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      await until(
        async () => {
          const r = await client.responses.create({ model: 'demo', input: 'Say hello' }).catch(() => null);
          return r?.output_text.startsWith('Hello! You said: Say hello');
        },
        30_000,
        200,
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 90_000);
});
