// Relative accuracy of the quantile sketch: an estimate is within 1% of a value of the right rank.
const ACCURACY = 0.01;
const GAMMA = (1 + ACCURACY) / (1 - ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);

/**
 * One histogram series inside the sidecar: explicit buckets for the sinks, plus a logarithmic sketch for
 * quantiles (values are mapped to buckets of relative width 2%, so any quantile is known within 1%).
 */
export class HistogramState {
  readonly bounds: readonly number[];
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = NaN;
  max = NaN;
  readonly #positive = new Map<number, number>();
  readonly #negative = new Map<number, number>();
  #zeros = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Adds one finite value. */
  record(value: number): void {
    const bounds = this.bounds;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (value <= bounds[mid]!) hi = mid;
      else lo = mid + 1;
    }
    this.counts[lo]!++;
    if (this.count === 0) this.min = this.max = value;
    else if (value < this.min) this.min = value;
    else if (value > this.max) this.max = value;
    this.count++;
    this.sum += value;
    if (value > 0) bump(this.#positive, Math.ceil(Math.log(value) / LOG_GAMMA));
    else if (value < 0) bump(this.#negative, Math.ceil(Math.log(-value) / LOG_GAMMA));
    else this.#zeros++;
  }

  /** The value at quantile `q` (0 to 1), within 1% relative error, clamped to [min, max]; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    let rank = q * (this.count - 1);
    // Most negative first: larger magnitudes of the negative side come first.
    const negative = [...this.#negative.keys()].sort((a, b) => b - a);
    for (const key of negative) {
      rank -= this.#negative.get(key)!;
      if (rank < 0) return this.#clamp(-estimate(key));
    }
    rank -= this.#zeros;
    if (rank < 0) return this.#clamp(0);
    const positive = [...this.#positive.keys()].sort((a, b) => a - b);
    for (const key of positive) {
      rank -= this.#positive.get(key)!;
      if (rank < 0) return this.#clamp(estimate(key));
    }
    return this.max;
  }

  #clamp(value: number): number {
    return Math.min(this.max, Math.max(this.min, value));
  }
}

function bump(map: Map<number, number>, key: number): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The middle of sketch bucket `key` (values in (γ^(key-1), γ^key]), by relative error. */
function estimate(key: number): number {
  return (2 * Math.pow(GAMMA, key)) / (GAMMA + 1);
}
