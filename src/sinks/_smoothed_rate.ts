// The pace of one stage, smoothed so that irregular updates (bursts, pauses between chunks) do not make the ETA
// jump: units and time are summed with exponentially decaying weights, so the rate is that of the recent past.

/**
 * Half-life of the weights, in milliseconds: work done 10 s ago counts half as much as work done now. Long enough
 * to even out chunks of a few seconds, short enough that a real change of pace shows within half a minute.
 */
export const HALF_LIFE_MS = 10_000;

/** A stage's rate from its `(time, done)` updates, with the time left derived from it. */
export class SmoothedRate {
  readonly #halfLife: number;
  #units = 0;
  #ms = 0;
  #lastTime: number | undefined;
  #lastDone = 0;

  constructor(halfLifeMs: number = HALF_LIFE_MS) {
    this.#halfLife = halfLifeMs;
  }

  /** Takes an update: `done` units at `time` (milliseconds). A `done` that went back starts the estimate anew. */
  update(time: number, done: number): void {
    if (this.#lastTime === undefined || done < this.#lastDone) {
      this.#units = 0;
      this.#ms = 0;
      this.#lastTime = time;
      this.#lastDone = done;
      return;
    }
    const dt = time - this.#lastTime;
    const units = done - this.#lastDone;
    this.#lastDone = done;
    // Updates within one millisecond (or from a thread whose clock is behind) add work without time.
    if (dt <= 0) {
      this.#units += units;
      return;
    }
    const decay = 2 ** (-dt / this.#halfLife);
    this.#units = this.#units * decay + units;
    this.#ms = this.#ms * decay + dt;
    this.#lastTime = time;
  }

  /** Units per second; `NaN` until time has passed between two updates. */
  get perSecond(): number {
    return this.#ms > 0 ? (this.#units / this.#ms) * 1000 : NaN;
  }

  /**
   * Milliseconds until `remaining` more units are done at the smoothed pace, counted down from the last update to
   * `now`, so it falls steadily between updates. `undefined` while the pace is unknown or zero, and once `now` is
   * past the predicted end without an update (the pace was wrong; the next update tells the new one).
   */
  eta(remaining: number, now: number): number | undefined {
    if (remaining <= 0) return 0;
    if (!(this.#units > 0 && this.#ms > 0) || this.#lastTime === undefined) return undefined;
    const left = (remaining * this.#ms) / this.#units - Math.max(0, now - this.#lastTime);
    return left > 0 ? left : undefined;
  }
}
