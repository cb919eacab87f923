import { readFileSync } from 'node:fs';

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) this summary reads. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  ms: number;
  /** Percent of the non-idle time. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  /** Self time grouped by where the code lives: a package, a Spool workspace, node internals, GC. */
  byArea: ProfileEntry[];
  /**
   * Self time charged to the nearest caller that is a library or Spool workspace (node internals
   * and natives are charged to whoever called them): "whose work is this", e.g. a socket write
   * issued by ioredis counts as ioredis.
   */
  byOwner: ProfileEntry[];
  /** Functions with the most self time. */
  topSelf: ProfileEntry[];
  /** Functions with the most inclusive time (self + callees, recursion counted once). */
  topTotal: ProfileEntry[];
}

/** `…/node_modules/ioredis/built/…` → `ioredis`; `…/services/api/src/…` → `spool services/api`. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (program), (idle)
    return '(native)';
  }
  if (url.startsWith('node:internal/deps/undici')) return 'undici (fetch)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const ws = /\/(packages|services|bench)\/([^/]+)\//.exec(url);
  if (ws) return `spool ${ws[1]}/${ws[2]}`;
  return url;
}

function label(frame: ProfileNode['callFrame']): string {
  const file = frame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/(packages|services|bench)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  let idleUs = 0;
  let totalUs = 0;
  const area = new Map<string, number>();
  const owner = new Map<string, number>();
  const isInternal = (a: string) => a === 'node internals' || a === '(native)' || a === '(program)';
  const selfByFn = new Map<string, number>();
  const totalByFn = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const a = areaOf(node.callFrame.url, node.callFrame.functionName);
    area.set(a, (area.get(a) ?? 0) + us);
    let who = a;
    for (let cur: number | undefined = id; cur !== undefined && isInternal(who); cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (frame && frame.functionName !== '(root)') who = areaOf(frame.url, frame.functionName);
    }
    owner.set(who, (owner.get(who) ?? 0) + us);
    const key = label(node.callFrame);
    selfByFn.set(key, (selfByFn.get(key) ?? 0) + us);
    // Inclusive: credit this sample to every distinct function on its stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      const k = label(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      totalByFn.set(k, (totalByFn.get(k) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  const list = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0 }));
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    byArea: list(area, 20),
    byOwner: list(owner, 20),
    topSelf: list(selfByFn, top),
    topTotal: list(totalByFn, top),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [`profile ${s.file}: ${s.totalMs} ms sampled, ${s.idleMs} ms idle (percentages are of busy time)`, '', 'self time by area:'];
  for (const e of s.byArea) lines.push(`  ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`);
  lines.push('', 'self time by owner (internals charged to the library or workspace that called them):');
  for (const e of s.byOwner) lines.push(`  ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`);
  lines.push('', 'top functions, self time:');
  for (const e of s.topSelf) lines.push(`  ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`);
  lines.push('', 'top functions, inclusive time:');
  for (const e of s.topTotal) lines.push(`  ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`);
  return lines.join('\n');
}
