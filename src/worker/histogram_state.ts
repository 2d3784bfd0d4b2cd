// Sub-buckets per power of two in the quantile sketch: each spans at most 1/64 of its values' magnitude, so the
// middle of a sub-bucket is within 0.8% of any value in it.
const SUB_BITS = 6;
const SUBS = 1 << SUB_BITS;
const EXPONENTS = 2048;
/** In a row's `buckets`: some bucket bound falls inside the sub-bucket, so its values are compared one by one. */
const STRADDLES = -1;

// Reads a double's sign, exponent and top mantissa bits without Math.log: what keeps recording cheap.
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** The sketch's sub-buckets of one sign and power of two. */
interface Row {
  /** Values seen per sub-bucket. */
  readonly counts: Float64Array;
  /** The explicit bucket every value of a sub-bucket falls in, or `STRADDLES`. */
  readonly buckets: Int32Array;
}

/**
 * One histogram series inside the sidecar: explicit buckets for the sinks, plus a log-linear sketch for quantiles
 * (64 sub-buckets per power of two, kept only for the powers seen), so any quantile is known within 1%.
 *
 * A value's sub-bucket comes from its bits, and most sub-buckets lie inside one explicit bucket, found once when
 * the row is made: a value costs a few loads and increments, and a search over the bounds only when a bound
 * falls inside its sub-bucket.
 */
export class HistogramState {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  min = NaN;
  max = NaN;
  /** Per biased exponent, the sub-buckets of values above zero; `#negative` of those below. */
  readonly #positive: Array<Row | undefined> = new Array(EXPONENTS);
  readonly #negative: Array<Row | undefined> = new Array(EXPONENTS);
  #zeros = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Adds one finite value. */
  record(value: number): void {
    this.count++;
    this.sum += value;
    // Comparisons with NaN are false, so the first value sets both.
    if (!(value >= this.min)) this.min = value;
    if (!(value <= this.max)) this.max = value;
    bits[0] = value;
    const high = words[HIGH]!;
    const exponent = (high >>> 20) & 0x7ff;
    // Zero and subnormal values (below 2.2e-308) count as zero.
    if (exponent === 0) {
      this.#zeros++;
      this.counts[this.#search(value)]!++;
      return;
    }
    const negative = high >>> 31 !== 0;
    const row = (negative ? this.#negative : this.#positive)[exponent] ?? this.#row(negative, exponent);
    const sub = (high >>> (20 - SUB_BITS)) & (SUBS - 1);
    row.counts[sub]!++;
    const bucket = row.buckets[sub]!;
    this.counts[bucket === STRADDLES ? this.#search(value) : bucket]!++;
  }

  /** Adds `values[from]` up to `values[to - 1]`, each finite. */
  recordAll(values: Float64Array, from: number, to: number): void {
    for (let i = from; i < to; i++) this.record(values[i]!);
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
        rank -= row.counts[m]!;
        if (rank < 0) return this.#clamp(-estimate(e, m));
      }
    }
    rank -= this.#zeros;
    if (rank < 0) return this.#clamp(0);
    for (let e = 1; e < EXPONENTS; e++) {
      const row = this.#positive[e];
      if (row === undefined) continue;
      for (let m = 0; m < SUBS; m++) {
        rank -= row.counts[m]!;
        if (rank < 0) return this.#clamp(estimate(e, m));
      }
    }
    return this.max;
  }

  /** The explicit bucket of `value`: the first whose upper bound is at least the value, or the last. */
  #search(value: number): number {
    return firstAtLeast(this.bounds, value, false);
  }

  /** Makes the row of a sign and biased exponent, with the explicit bucket of each of its sub-buckets. */
  #row(negative: boolean, exponent: number): Row {
    const counts = new Float64Array(SUBS);
    const buckets = new Int32Array(SUBS);
    const bounds = this.bounds;
    const scale = Math.pow(2, exponent - 1023);
    for (let m = 0; m < SUBS; m++) {
      // The sub-bucket's magnitudes are [low, high): exact in binary, as they are a power of two times m / 64.
      const low = scale * (1 + m / SUBS);
      const high = scale * (1 + (m + 1) / SUBS);
      let bucket: number;
      if (negative) {
        // Values in (-high, -low]: one bucket unless a bound lies strictly between the ends.
        bucket = firstAtLeast(bounds, -high, true);
        if (bucket < bounds.length && bounds[bucket]! < -low) bucket = STRADDLES;
      } else {
        // Values in [low, high): one bucket unless a bound lies in it (a bound equal to low splits it too).
        bucket = firstAtLeast(bounds, low, false);
        if (bucket < bounds.length && bounds[bucket]! < high) bucket = STRADDLES;
      }
      buckets[m] = bucket;
    }
    const row = { counts, buckets };
    (negative ? this.#negative : this.#positive)[exponent] = row;
    return row;
  }

  #clamp(value: number): number {
    return Math.min(this.max, Math.max(this.min, value));
  }
}

/** Index of the first bound at least `value` (above it, when `strict`); `bounds.length` when none is. */
function firstAtLeast(bounds: readonly number[], value: number, strict: boolean): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (strict ? value < bounds[mid]! : value <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The middle of sub-bucket `m` of biased exponent `e`. */
function estimate(e: number, m: number): number {
  return Math.pow(2, e - 1023) * (1 + (m + 0.5) / SUBS);
}
