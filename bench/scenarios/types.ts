import type { Bench } from '../harness.ts';
import type { ScenarioName } from '../options.ts';

/**
 * One line of the result table. `overhead` is always `spool - direct` in `unit`; `ratio` is
 * `spool / direct`. A target is checked on `spool` or on `overhead`, as `check` says.
 */
export interface Row {
  scenario: ScenarioName;
  metric: string;
  unit: string;
  direct: number | null;
  spool: number | null;
  overhead: number | null;
  ratio: number | null;
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

/** Builds a row; `check` says which figure the target limits. */
export function row(
  scenario: ScenarioName,
  metric: string,
  unit: string,
  direct: number | null,
  spool: number | null,
  target: { text: string; check: 'spool' | 'overhead'; max?: number; min?: number } | null,
): Row {
  const overhead = direct !== null && spool !== null && Number.isFinite(direct) && Number.isFinite(spool) ? spool - direct : null;
  const ratio = direct !== null && spool !== null && direct !== 0 && Number.isFinite(direct) && Number.isFinite(spool) ? spool / direct : null;
  let holds: boolean | null = null;
  if (target) {
    const v = target.check === 'spool' ? spool : overhead;
    if (v !== null && Number.isFinite(v)) holds = (target.max === undefined || v <= target.max) && (target.min === undefined || v >= target.min);
  }
  return { scenario, metric, unit, direct, spool, overhead, ratio, target: target?.text ?? null, holds };
}
