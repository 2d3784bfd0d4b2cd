// Sub-buckets per power of two in the quantile sketch: each spans at most 1/64 of its values' magnitude, so the
// middle of a sub-bucket is within 0.8% of any value in it.
const SUB_BITS = 6;
const SUBS = 1 << SUB_BITS;
const EXPONENTS = 2048;

// Reads a double's sign, exponent and top mantissa bits without Math.log: what keeps recording cheap.
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * One histogram series inside the sidecar: explicit buckets for the sinks, plus a log-linear sketch for quantiles
 * (64 sub-buckets per power of two, kept only for the powers seen), so any quantile is known within 1%.
 */
export class HistogramState {
  readonly bounds: readonly number[];
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = NaN;
  max = NaN;
  /** Per biased exponent, counts of the sub-buckets; `#negative` for values below zero. */
  readonly #positive: Array<Float64Array | undefined> = new Array(EXPONENTS);
  readonly #negative: Array<Float64Array | undefined> = new Array(EXPONENTS);
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
    bits[0] = value;
    const high = words[HIGH]!;
    const exponent = (high >>> 20) & 0x7ff;
    // Zero and subnormal values (below 2.2e-308) count as zero.
    if (exponent === 0) {
      this.#zeros++;
      return;
    }
    const rows = high >>> 31 === 0 ? this.#positive : this.#negative;
    let row = rows[exponent];
    if (row === undefined) rows[exponent] = row = new Float64Array(SUBS);
    row[(high >>> (20 - SUB_BITS)) & (SUBS - 1)]!++;
  }

  /** The value at quantile `q` (0 to 1), within 1% relative error, clamped to [min, max]; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    let rank = q * (this.count - 1);
    // Most negative first: the negative side is walked from the largest magnitude down.
    for (let e = EXPONENTS - 1; e > 0; e--) {
      const row = this.#negative[e];
      if (row === undefined) continue;
      for (let m = SUBS - 1; m >= 0; m--) {
        rank -= row[m]!;
        if (rank < 0) return this.#clamp(-estimate(e, m));
      }
    }
    rank -= this.#zeros;
    if (rank < 0) return this.#clamp(0);
    for (let e = 1; e < EXPONENTS; e++) {
      const row = this.#positive[e];
      if (row === undefined) continue;
      for (let m = 0; m < SUBS; m++) {
        rank -= row[m]!;
        if (rank < 0) return this.#clamp(estimate(e, m));
      }
    }
    return this.max;
  }

  #clamp(value: number): number {
    return Math.min(this.max, Math.max(this.min, value));
  }
}

/** The middle of sub-bucket `m` of biased exponent `e`. */
function estimate(e: number, m: number): number {
  return Math.pow(2, e - 1023) * (1 + (m + 0.5) / SUBS);
}
