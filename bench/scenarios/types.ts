import type { Bench } from '../harness.ts';
import type { ScenarioName } from '../options.ts';

/**
 * One line of the result table. `overhead` is always `spool - direct` in `unit`; `ratio` is
 * `spool / direct`, `peerRatio` is `spool / peer`. `peer` is the peer gateway (Portkey) on Chat
 * Completions: the same request as `direct`, through a stateless gateway. A target is checked on
 * `spool` or on `overhead`, and/or against the peer, as the target says.
 */
export interface Row {
  scenario: ScenarioName;
  metric: string;
  unit: string;
  direct: number | null;
  /** Absent in reports written before the peer was measured. */
  peer?: number | null;
  spool: number | null;
  overhead: number | null;
  ratio: number | null;
  peerRatio?: number | null;
  target: string | null;
  /** null when there is no target for this line or it could not be measured. */
  holds: boolean | null;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  /** The load, in words: clients, rates, request shape. */
  load: string;
  /** Wall-clock seconds the scenario took (start-up and drain included). */
  wallSeconds: number;
  /**
   * The code its Spool process loaded (commit, and whether uncommitted changes were on top): each
   * scenario starts a fresh Spool, so scenarios of one run can measure different code.
   */
  code?: string;
  rows: Row[];
  /** Set when the scenario did not run (e.g. the server lacks the feature), with the reason. */
  skipped?: string;
  /** Measured reasons, caveats, what limited the figure. Filled in by the scenario. */
  notes: string[];
  /** Everything measured, for the JSON. */
  details: Record<string, unknown>;
}

export type Scenario = (bench: Bench) => Promise<Omit<ScenarioResult, 'wallSeconds'>>;

export interface Target {
  text: string;
  /** Which of Spool's figures `max`/`min` limit. */
  check?: 'spool' | 'overhead';
  max?: number;
  min?: number;
  /**
   * Spool against the peer: Spool's figure (`spool`) or its overhead over direct (`overhead`),
   * divided by the peer's same figure, within `maxRatio`/`minRatio`.
   */
  peer?: { on: 'spool' | 'overhead'; maxRatio?: number; minRatio?: number };
}

const finite = (v: number | null): v is number => v !== null && Number.isFinite(v);

function within(v: number | null, max?: number, min?: number): boolean | null {
  if (!finite(v)) return null;
  return (max === undefined || v <= max) && (min === undefined || v >= min);
}

/** Builds a row; the target says which figures it limits. `peer` is the peer gateway's figure. */
export function row(scenario: ScenarioName, metric: string, unit: string, direct: number | null, spool: number | null, target: Target | null, peer: number | null = null): Row {
  const overhead = finite(direct) && finite(spool) ? spool - direct : null;
  const ratio = finite(direct) && finite(spool) && direct !== 0 ? spool / direct : null;
  const peerRatio = finite(peer) && finite(spool) && peer !== 0 ? spool / peer : null;
  const verdicts: Array<boolean | null> = [];
  if (target?.check) verdicts.push(within(target.check === 'spool' ? spool : overhead, target.max, target.min));
  if (target?.peer) {
    const p = target.peer;
    const mine = p.on === 'spool' ? spool : overhead;
    const theirs = p.on === 'spool' ? peer : finite(peer) && finite(direct) ? peer - direct : null;
    // An overhead is compared as a difference when the peer's is ≤ 0 (a ratio to it means nothing).
    const r = finite(mine) && finite(theirs) ? (theirs > 0 ? mine / theirs : mine <= theirs ? 0 : Infinity) : null;
    verdicts.push(within(r, p.maxRatio, p.minRatio));
  }
  const holds = verdicts.length === 0 || verdicts.includes(null) ? null : verdicts.every(Boolean);
  return { scenario, metric, unit, direct, peer, spool, overhead, ratio, peerRatio, target: target?.text ?? null, holds };
}
