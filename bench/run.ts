/**
 * `npm run bench`: starts its own redis-server, the fixtures (scripted upstream, echo MCP server)
 * and, per scenario, a fresh Spool process; runs the scenarios; prints one table and writes
 * bench/results/latest.json and BENCHMARKS.md. Never part of `npm test`. See bench/README.md.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hasRedisServerBinary } from '@spool/runtime';
import { BENCH_DIR, openBench, PROFILES_DIR, QUIET_PERCENT, redisVersion, RESULTS_DIR } from './harness.ts';
import { formatProfile, summarizeProfile, type ProfileSummary } from './lib/profile.ts';
import { disturbance, gitState, machineInfo } from './lib/proc.ts';
import { OptionsError, parseOptions, type Options, type ScenarioName } from './options.ts';
import { formatMarkdown, formatTable, type Report } from './report.ts';
import { background } from './scenarios/background.ts';
import { floor } from './scenarios/floor.ts';
import { idleSse } from './scenarios/idle-sse.ts';
import { latency } from './scenarios/latency.ts';
import { mcp } from './scenarios/mcp.ts';
import { streaming } from './scenarios/streaming.ts';
import { throughput } from './scenarios/throughput.ts';
import type { Scenario, ScenarioResult } from './scenarios/types.ts';

const SCENARIO_RUNNERS: Record<ScenarioName, Scenario> = {
  latency,
  throughput,
  streaming,
  background,
  mcp,
  'idle-sse': idleSse,
  floor,
};

/**
 * The main-thread profile of each Spool process of the profiled run (one directory per process):
 * V8 writes one file per thread, and the thread that ran Spool has the most busy (non-idle) time.
 */
function mainThreadProfiles(since: number): ProfileSummary[] {
  if (!existsSync(PROFILES_DIR)) return [];
  const dirs = readdirSync(PROFILES_DIR)
    .map((d) => resolve(PROFILES_DIR, d))
    .filter((d) => statSync(d).isDirectory() && statSync(d).mtimeMs >= since);
  const out: ProfileSummary[] = [];
  for (const dir of dirs) {
    const summaries = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => summarizeProfile(resolve(dir, f)));
    summaries.sort((a, b) => b.totalMs - b.idleMs - (a.totalMs - a.idleMs));
    if (summaries[0]) out.push(summaries[0]);
  }
  return out;
}

/** BENCHMARKS.md at the repository root: the report plus the hand-written bench/findings.md. */
function writeMarkdown(report: Report): void {
  const findingsPath = resolve(BENCH_DIR, 'findings.md');
  const findings = existsSync(findingsPath) ? readFileSync(findingsPath, 'utf8') : null;
  writeFileSync(resolve(BENCH_DIR, '..', 'BENCHMARKS.md'), formatMarkdown(report, findings));
}

/**
 * The largest disturbance among a scenario's measured phases: other processes (`others`) plus
 * time the hypervisor gave to other machines (`steal`), in % of a core.
 */
function maxOthers(cpu: unknown): number | null {
  if (!cpu || typeof cpu !== 'object') return null;
  const values: number[] = [];
  const visit = (o: Record<string, unknown>) => {
    const d = disturbance(o);
    if (d !== null) values.push(d);
    for (const v of Object.values(o)) if (v && typeof v === 'object') visit(v as Record<string, unknown>);
  };
  visit(cpu as Record<string, unknown>);
  return values.length > 0 ? Math.max(...values) : null;
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof OptionsError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  if (opts.reportOnly) {
    const report = JSON.parse(readFileSync(resolve(RESULTS_DIR, 'latest.json'), 'utf8')) as Report;
    writeMarkdown(report);
    console.log(formatTable(report.rows));
    return;
  }
  if (!hasRedisServerBinary()) {
    console.error('The bench starts its own redis-server and needs it on PATH (Debian/Ubuntu: apt-get install redis-server).');
    process.exit(1);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const began = performance.now();
  const startedAt = Date.now();
  const bench = await openBench(opts);
  const machine = machineInfo(await redisVersion(bench.redis.url));
  console.error(`bench: ${machine.cpuModel} × ${machine.cores}, node ${machine.node}, redis ${machine.redis}; scenarios ${opts.only.join(', ')}; ${opts.duration} s phases`);

  const results: ScenarioResult[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.error('bench: interrupted, stopping after this scenario');
  };
  process.once('SIGINT', onSignal);
  try {
    for (const name of opts.only) {
      if (interrupted) break;
      const othersBefore = await bench.quiet();
      const code = gitState();
      const t0 = performance.now();
      console.error(`bench: ${name} …${othersBefore !== null && othersBefore >= QUIET_PERCENT ? ` (the machine is busy: other processes use ${othersBefore}% of a core)` : ''}`);
      try {
        const r = await SCENARIO_RUNNERS[name](bench);
        const disturbed = maxOthers(r.details.cpuPercent);
        if (disturbed !== null && disturbed >= QUIET_PERCENT) {
          r.notes.unshift(`Disturbed: other processes and the hypervisor's other guests (steal) took up to ${disturbed}% of a core during a measured phase; treat these figures as low.`);
        }
        if (opts.profile === name) r.notes.unshift('Spool ran under --cpu-prof in this run: the profiler costs throughput, compare figures from an unprofiled run.');
        results.push({ ...r, wallSeconds: Math.round((performance.now() - t0) / 100) / 10, code });
      } catch (err) {
        console.error(`bench: ${name} failed:`, err);
        results.push({
          scenario: name,
          load: '',
          wallSeconds: Math.round((performance.now() - t0) / 100) / 10,
          code,
          rows: [{ scenario: name, metric: `failed: ${(err as Error).message}`, unit: '', direct: null, spool: null, overhead: null, ratio: null, target: null, holds: null }],
          notes: [String((err as Error).stack ?? err)],
          details: {},
        });
      }
      const last = results.at(-1);
      if (last)
        console.error(
          formatTable(last.rows)
            .split('\n')
            .slice(2)
            .map((l) => `  ${l}`)
            .join('\n'),
        );
    }
  } finally {
    await bench.close();
  }

  let profiles: ProfileSummary[] = [];
  if (opts.profile) {
    profiles = mainThreadProfiles(startedAt);
    for (const p of profiles) console.error(`\n${formatProfile(p)}\n`);
    if (profiles.length === 0) console.error('bench: no CPU profile was written');
  }

  const report: Report = {
    generatedAt: new Date().toISOString(),
    machine,
    options: opts,
    totalSeconds: Math.round((performance.now() - began) / 1000),
    rows: results.flatMap((r) => r.rows),
    scenarios: results,
    profiles,
  };
  console.log(`\n${formatTable(report.rows)}\n`);
  writeFileSync(resolve(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeMarkdown(report);
  console.error(`bench: wrote bench/results/latest.json and BENCHMARKS.md (${report.totalSeconds} s)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
