// `npm run build`: bundles Spool's entry point with every workspace package (@spool/*) into one
// ES module, dist/spool.js, for plain `node` (no tsx at run time). Third-party packages stay
// external: they are the production dependencies (root's and every workspace's) that the image installs. A bundler rather than
// tsc emit, because the workspace packages import each other's `.ts` sources by package name
// (`exports: ./src/index.ts`), which Node cannot load from compiled output without a second set
// of package exports; esbuild (already here under tsx) resolves them at build time.
// Type checking stays `npm run typecheck`; this only strips types.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ENTRY = 'services/spool/src/main.ts';
/** Non-code files the bundled modules read at start-up, copied beside the bundle. */
const ASSETS = ['services/api/src/console/console.html', 'services/api/src/console/console.js'];

/**
 * Third-party packages the production code uses: the `dependencies` of the root and of every
 * workspace package (each declares what it imports), without the workspace packages themselves.
 */
export function productionDependencies() {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const names = new Set(Object.keys(root.dependencies ?? {}));
  for (const pattern of root.workspaces ?? []) {
    const dir = join(ROOT, pattern.replace(/\/\*$/, ''));
    for (const entry of readdirSync(dir)) {
      const file = join(dir, entry, 'package.json');
      if (!existsSync(file)) continue;
      for (const name of Object.keys(JSON.parse(readFileSync(file, 'utf8')).dependencies ?? {})) if (!name.startsWith('@spool/')) names.add(name);
    }
  }
  return [...names].sort();
}

/** Builds into `outdir` (default dist/); returns the bare package imports left in the bundle. */
export async function build(outdir = join(ROOT, 'dist')) {
  const { build: esbuild } = await import('esbuild');
  const external = productionDependencies().flatMap((name) => [name, `${name}/*`]);
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild({
    absWorkingDir: ROOT,
    entryPoints: { spool: ENTRY },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    external,
    metafile: true,
    logLevel: 'warning',
    // Bundled ESM has no `require`; a CommonJS dependency reached through a bundled file needs one.
    banner: { js: "import { createRequire as __spoolCreateRequire } from 'node:module'; const require = __spoolCreateRequire(import.meta.url);" },
  });
  const builtins = new Set(builtinModules);
  const imports = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const i of output.imports) if (i.external && !i.path.startsWith('node:') && !builtins.has(i.path)) imports.add(i.path);
  }
  // Files the bundle reads beside itself at start-up (`new URL('./…', import.meta.url)`).
  for (const asset of ASSETS) copyFileSync(join(ROOT, asset), join(outdir, basename(asset)));
  writeFileSync(join(outdir, 'build-info.json'), JSON.stringify({ entry: ENTRY, builtAt: new Date().toISOString(), externals: [...imports].sort() }, null, 2));
  return [...imports].sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = process.argv[2] ? resolve(process.argv[2]) : undefined;
  const externals = await build(outdir);
  console.log(`built ${join(outdir ?? join(ROOT, 'dist'), 'spool.js')} (external: ${externals.join(', ')})`);
}
