import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux). null elsewhere: the
 * CPU split is extra evidence in the report, not a requirement.
 */
export function cpuSeconds(pid: number, withChildren = false): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after its closing paren are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    // Children the process has reaped (redis-server's append-only-file rewrites are forks).
    const children = withChildren ? Number(fields[13]) + Number(fields[14]) : 0;
    // USER_HZ is 100 on every mainstream Linux build.
    return (utime + stime + children) / 100;
  } catch {
    return null;
  }
}

/**
 * CPU seconds the whole machine spent, all cores, split three ways: `tasks` (user and system time
 * of processes), `kernel` (interrupts and softirqs, charged to no process: mostly the loopback
 * network traffic of the processes measured) and `steal` (time the hypervisor gave to other
 * machines: this VM's neighbours).
 */
export function machineSeconds(): { tasks: number; kernel: number; steal: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return { tasks: ((user ?? 0) + (nice ?? 0) + (system ?? 0)) / 100, kernel: ((irq ?? 0) + (softirq ?? 0)) / 100, steal: (steal ?? 0) / 100 };
  } catch {
    return null;
  }
}

/**
 * Samples several processes' CPU time at once; `since()` gives % of one core per process, plus
 * `others`: what every other process on the machine used meanwhile, `steal`: what the hypervisor
 * gave to other machines, and `kernel`: interrupt work charged to no process. This machine may be
 * shared: `others` and `steal` say how much a figure was disturbed.
 */
export class CpuMeter {
  private readonly start = new Map<string, number | null>();
  private readonly machineStart = machineSeconds();
  private readonly at = Date.now();

  /** `pids` by name; for `redis`, the forks it has reaped (persistence rewrites) count as its own. */
  constructor(private readonly pids: Record<string, number>) {
    for (const [name, pid] of Object.entries(pids)) this.start.set(name, cpuSeconds(pid, name === 'redis'));
  }

  /** Percent of one core each process used since construction (100 = one full core). */
  since(): Record<string, number | null> {
    const elapsed = (Date.now() - this.at) / 1000;
    const out: Record<string, number | null> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(this.pids)) {
      const before = this.start.get(name) ?? null;
      const now = cpuSeconds(pid, name === 'redis');
      out[name] = before === null || now === null || elapsed <= 0 ? null : Math.round(((now - before) / elapsed) * 100);
      ours += out[name] ?? 0;
    }
    const m0 = this.machineStart;
    const m1 = machineSeconds();
    const pct = (a: number, b: number) => Math.round(((b - a) / elapsed) * 100);
    const known = m0 !== null && m1 !== null && elapsed > 0;
    out.others = known ? Math.max(0, pct(m0.tasks, m1.tasks) - ours) : null;
    out.steal = known ? pct(m0.steal, m1.steal) : null;
    out.kernel = known ? pct(m0.kernel, m1.kernel) : null;
    return out;
  }
}

/** How much a sample was disturbed: other processes plus steal, in % of a core (null: unknown). */
export function disturbance(sample: Record<string, unknown>): number | null {
  return typeof sample.others === 'number' ? sample.others + (typeof sample.steal === 'number' ? sample.steal : 0) : null;
}

/**
 * Waits (at most `maxMs`) until processes other than `pids` use less than `limitPercent` of one
 * core over a 1 s sample. Returns what they used in the last sample.
 */
export async function waitForQuiet(pids: number[], limitPercent: number, maxMs: number): Promise<number | null> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const meter = new CpuMeter(Object.fromEntries(pids.map((p) => [String(p), p])));
    await new Promise((r) => setTimeout(r, 1000));
    const others = disturbance(meter.since());
    if (others === null || others < limitPercent || Date.now() >= deadline) return others;
  }
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  redis: string;
  /** The commit measured, and whether the working tree had uncommitted changes on top of it. */
  git: string;
}

/** Read-only: `git rev-parse` and `git status`, never anything that changes the repository. */
export function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} with uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(redisVersion: string): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    redis: redisVersion,
    git: gitState(),
  };
}
