// `npm start`: runs the compiled build, dist/spool.js, building it first when it is missing or
// older than any source file, package.json or the lockfile (so `npm install && npm start` is
// still all it takes). An install without dev dependencies (the container image) has no
// bundler: there the existing build runs as it is.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, build } from './build.mjs';

const OUT = join(ROOT, 'dist', 'spool.js');

function newestSource() {
  let newest = 0;
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') visit(path);
      } else if (/\.(ts|mts|json)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) {
        newest = Math.max(newest, statSync(path).mtimeMs);
      }
    }
  };
  for (const group of ['packages', 'services']) {
    const base = join(ROOT, group);
    if (!existsSync(base)) continue;
    for (const pkg of readdirSync(base)) if (existsSync(join(base, pkg))) visit(join(base, pkg));
  }
  for (const f of ['package.json', 'package-lock.json']) if (existsSync(join(ROOT, f))) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

const hasSources = existsSync(join(ROOT, 'services', 'spool', 'src', 'main.ts'));
const stale = !existsSync(OUT) || (hasSources && statSync(OUT).mtimeMs < newestSource());
if (stale) {
  let canBuild = true;
  try {
    await import('esbuild');
  } catch {
    canBuild = false;
  }
  if (canBuild) {
    console.log(existsSync(OUT) ? '  Sources changed since the last build: building dist/ …' : '  No build yet: building dist/ …');
    await build();
  } else if (!existsSync(OUT)) {
    console.error('dist/spool.js is missing and esbuild is not installed: run `npm install` (with dev dependencies), then `npm run build`.');
    process.exit(1);
  }
}
await import(pathToFileURL(OUT).href);
