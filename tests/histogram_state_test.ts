import { describe, test } from "node:test";
import { assertEquals } from "@std/assert";
import { HistogramState } from "../src/worker/histogram_state.ts";

/** The explicit bucket by its definition: the first bound the value does not exceed, or the overflow bucket. */
function naiveCounts(bounds: readonly number[], values: readonly number[]): number[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of values) {
    let b = 0;
    while (b < bounds.length && v > bounds[b]!) b++;
    counts[b]!++;
  }
  return counts;
}

/** Values on, just below and just above every bound, in every sub-bucket around it, and far from all of them. */
function hardValues(bounds: readonly number[]): number[] {
  const out = [0, -0, 5e-324, -5e-324, 1e-310, Number.MAX_VALUE, -Number.MAX_VALUE, 1e300, -1e300];
  for (const b of bounds) {
    for (const d of [0, 1e-12, 1e-9, 1e-6, 0.001, 0.01, 0.1]) {
      const step = Math.max(Math.abs(b) * d, d);
      out.push(b, b - step, b + step, -b, -b - step, -b + step);
    }
    out.push(b * (1 + 1 / 64), b * (1 - 1 / 64), b * (1 + 1 / 128), b * (1 - 1 / 128));
  }
  let state = 7;
  for (let i = 0; i < 5000; i++) {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    const u = (state >>> 0) / 4294967296;
    out.push((u - 0.3) * 20000, Math.exp((u - 0.5) * 60));
  }
  return out;
}

describe("histogram state", () => {
  const cases: Array<[string, number[]]> = [
    ["the default bounds", [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]],
    ["negative and fractional bounds", [-1000, -2.5, -1, -0.5, 0.1, 0.3, 1 / 3, 0.5, 1, 1.015625, 1e6]],
    ["powers of two and the sub-bucket edges", [0.25, 0.5, 1, 1.5, 2, 2.03125, 4, 1024, 1056]],
    ["one bound", [1]],
    ["no bounds", []],
  ];
  for (const [name, bounds] of cases) {
    test(`bucket counts equal a count by the definition: ${name}`, () => {
      const values = hardValues(bounds);
      const one = new HistogramState(bounds);
      for (const v of values) one.record(v);
      assertEquals([...one.counts], naiveCounts(bounds, values));
      const all = new HistogramState(bounds);
      all.recordAll(Float64Array.from(values), 0, values.length);
      assertEquals([...all.counts], naiveCounts(bounds, values));
      assertEquals(one.count, values.length);
      assertEquals(all.sum, one.sum);
      assertEquals(one.min, Math.min(...values));
      assertEquals(one.max, Math.max(...values));
    });
  }

  test("recordAll takes the range it is given", () => {
    const h = new HistogramState([10]);
    h.recordAll(Float64Array.of(1, 2, 30, 40, 50), 1, 4);
    assertEquals([...h.counts], [1, 2]);
    assertEquals([h.count, h.sum, h.min, h.max], [3, 72, 2, 40]);
  });

  test("quantiles stay within 1% of the exact value", () => {
    const h = new HistogramState([]);
    const values: number[] = [];
    for (let i = 1; i <= 10000; i++) values.push(i % 2 ? i * 0.37 : -i * 0.11);
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.99, 1]) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
      const got = h.quantile(q);
      if (Math.abs(got - exact) > Math.abs(exact) * 0.01 + 1e-9) {
        throw new Error(`q=${q}: ${got} vs ${exact}`);
      }
    }
  });
});
