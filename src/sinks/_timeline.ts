/** Points of a timeline as kept: times in epoch milliseconds, each with a value and a second value. */
export interface TimelinePoints {
  readonly times: readonly number[];
  readonly values: readonly number[];
  readonly extras: readonly number[];
}

/**
 * Values over time in bounded memory, however long the run. Every `stride`-th point is kept; when `maxPoints - 1`
 * are kept, every other one is dropped and the stride doubles, so the kept points stay evenly spread over the
 * points seen. The latest point is always kept besides, so a chart ends at the run's last value. For cumulative
 * values (a counter's total, progress done) the rate between two kept points is still exact over their interval.
 */
export class Timeline {
  readonly #capacity: number;
  #times: number[] = [];
  #values: number[] = [];
  #extras: number[] = [];
  #stride = 1;
  #seen = 0;
  #lastTime = NaN;
  #lastValue = NaN;
  #lastExtra = NaN;

  /** Keeps at most `maxPoints` points (at least 3). */
  constructor(maxPoints: number) {
    // Even, so halving keeps the stride's grid; one slot stays free for the latest point.
    this.#capacity = Math.max(2, (maxPoints - 1) & ~1);
  }

  /** Adds a point; `extra` is a second value carried along (a progress total, say). */
  push(time: number, value: number, extra = NaN): void {
    this.#lastTime = time;
    this.#lastValue = value;
    this.#lastExtra = extra;
    if (this.#seen++ % this.#stride !== 0) return;
    this.#times.push(time);
    this.#values.push(value);
    this.#extras.push(extra);
    if (this.#times.length >= this.#capacity) {
      this.#times = this.#times.filter((_, i) => i % 2 === 0);
      this.#values = this.#values.filter((_, i) => i % 2 === 0);
      this.#extras = this.#extras.filter((_, i) => i % 2 === 0);
      this.#stride *= 2;
    }
  }

  /** Points seen so far, kept or not. */
  get seen(): number {
    return this.#seen;
  }

  /** The kept points in time order, ending with the latest point. */
  points(): TimelinePoints {
    const times = this.#times.slice();
    const values = this.#values.slice();
    const extras = this.#extras.slice();
    if ((this.#seen - 1) % this.#stride !== 0) {
      times.push(this.#lastTime);
      values.push(this.#lastValue);
      extras.push(this.#lastExtra);
    }
    return { times, values, extras };
  }
}
