/**
 * Latency samples in milliseconds. Kept raw (a Float64Array, bounded) rather than bucketed: the
 * targets are in single milliseconds, and percentiles of a difference need sub-millisecond values.
 */
export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export class Samples {
  private data: Float64Array;
  private n = 0;
  /** Samples beyond the capacity are counted but not kept (a bound on memory, not on the run). */
  dropped = 0;

  constructor(private readonly capacity = 1_000_000) {
    this.data = new Float64Array(Math.min(capacity, 1024));
  }

  add(ms: number): void {
    if (this.n === this.data.length) {
      if (this.n >= this.capacity) {
        this.dropped++;
        return;
      }
      const grown = new Float64Array(Math.min(this.capacity, this.data.length * 2));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): Summary {
    if (this.n === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
    const sorted = this.data.slice(0, this.n).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.n,
      mean: sum / this.n,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[this.n - 1] as number,
    };
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
