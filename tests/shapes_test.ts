import { describe, test } from "node:test";
import { join } from "node:path";
import { assertEquals } from "@std/assert";
import { startTelemetry } from "../mod.ts";
import { MAX_SHAPES } from "../src/protocol.ts";
import { readNdjson, tempDir } from "./_helpers.ts";

// Flat objects travel encoded by shape (numbers in columns, strings in a list); these values check that every
// kind of object comes out exactly as it went in, in order, whichever way it travelled.
function values(): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 300; i++) {
    out.push({ step: i, loss: 1 / (i + 1), phase: i % 2 ? "fit" : "eval" });
    if (i % 7 === 0) out.push({ loss: i, step: 0.5, phase: "reordered keys" });
    if (i % 11 === 0) out.push({ step: i, loss: 0, phase: "extra", extra: true });
    if (i % 13 === 0) out.push({ step: "now a string", loss: -0.25, phase: "" });
    if (i % 17 === 0) out.push({ nested: { a: i }, list: [i] });
    if (i % 19 === 0) out.push({ ok: false, yes: true, n: -Infinity, m: NaN });
    if (i % 23 === 0) out.push(i);
    if (i % 29 === 0) out.push({});
    if (i % 31 === 0) out.push({ phase: "strings first", tag: "then", deep: { a: i } }); // strings, then not flat
  }
  const many: Record<string, number> = {};
  for (let k = 0; k < 20; k++) many[`k${k}`] = k;
  out.push(many);
  out.push({ long: "x".repeat(100) }); // cut by maxEventBytes 64: copied whole, with the marker
  return out;
}

describe("flat objects encoded by shape", () => {
  for (const batchSize of [8192, 64, 5]) {
    test(`every object arrives as sent, in order (batchSize ${batchSize})`, async () => {
      const path = join(tempDir(), "shapes.ndjson");
      const telemetry = await startTelemetry({
        sinks: [{ kind: "ndjson", path }],
        batchSize,
        maxEventBytes: 64,
      });
      const sent = values();
      for (const value of sent) telemetry.event(value);
      await telemetry.stop();
      const got = readNdjson(path).map((l) => l.value);
      const expected = JSON.parse(JSON.stringify(sent, (_k, v) => {
        if (typeof v === "number" && !Number.isFinite(v)) {
          return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
        }
        return v;
      }));
      expected[expected.length - 1] = { long: `${"x".repeat(64)}…[truncated: 36 of 100 characters cut]` };
      assertEquals(got.length, sent.length);
      assertEquals(got, expected);
    });
  }

  test("an object changed after event() is reported as it was at the call", async () => {
    const path = join(tempDir(), "copy.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    const progress = { step: 0, phase: "a" };
    for (let i = 0; i < 100; i++) {
      progress.step = i;
      progress.phase = `p${i}`;
      telemetry.event(progress);
    }
    await telemetry.stop();
    const got = readNdjson(path).map((l) => l.value as { step: number; phase: string });
    assertEquals(got.map((v) => v.step), Array.from({ length: 100 }, (_, i) => i));
    assertEquals(got[99], { step: 99, phase: "p99" });
  });

  test("a getter that throws is recorded by the whole-value rules, not lost", async () => {
    const path = join(tempDir(), "getter.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    telemetry.event({ a: 1 });
    telemetry.event({
      a: 2,
      get b(): number {
        throw new Error("no b");
      },
    });
    telemetry.event({ a: 3 });
    await telemetry.stop();
    const got = readNdjson(path).map((l) => l.value);
    assertEquals(got[0], { a: 1 });
    assertEquals(got[2], { a: 3 });
    assertEquals((got[1] as { a: number }).a, 2);
  });

  test("an enumerable property of Object.prototype is not reported as the object's own, whatever came before", async () => {
    const path = join(tempDir(), "inherited.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    const proto = Object.prototype as Record<string, unknown>;
    telemetry.event({ step: 0, b: "own" });
    proto.b = "inherited"; // enumerable, as some old libraries still do
    try {
      telemetry.event({ step: 1 }); // for-in meets "step", then the inherited "b": the keys of the last shape
      telemetry.event({ step: 2, b: "own" });
      telemetry.event({ step: 3 });
      telemetry.event({ a: 0, b: "own", c: 0 });
      telemetry.event({ a: 1 }); // the first two keys of the last shape, the second inherited
    } finally {
      delete proto.b;
    }
    await telemetry.stop();
    assertEquals(readNdjson(path).map((l) => l.value), [
      { step: 0, b: "own" },
      { step: 1 },
      { step: 2, b: "own" },
      { step: 3 },
      { a: 0, b: "own", c: 0 },
      { a: 1 },
    ]);
  });

  test("an event sent from a getter keeps its strings apart from the object being read", async () => {
    const path = join(tempDir(), "nested_strings.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    telemetry.event({ phase: "outer", n: 0, tag: "t" });
    telemetry.event({
      phase: "outer",
      get n(): number {
        telemetry.event({ phase: "inner", n: 7, tag: "i" });
        telemetry.event({ only: "inner" });
        return 1;
      },
      tag: "t",
    });
    telemetry.event({ phase: "after", n: 2, tag: "a" });
    await telemetry.stop();
    assertEquals(readNdjson(path).map((l) => l.value), [
      { phase: "outer", n: 0, tag: "t" },
      { phase: "inner", n: 7, tag: "i" }, // stored first: the outer object is stored once it was read
      { only: "inner" },
      { phase: "outer", n: 1, tag: "t" },
      { phase: "after", n: 2, tag: "a" },
    ]);
  });

  test("an object found not flat after its getters ran is copied as read: no getter runs twice", async () => {
    const path = join(tempDir(), "read_once.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }], maxEventBytes: 64 });
    const reads: Record<string, number> = {};
    const getter = (name: string, value: () => unknown) => ({
      enumerable: true,
      get: () => {
        reads[name] = (reads[name] ?? 0) + 1;
        return value();
      },
    });
    // A getter before a nested value sends an event of its own: that event arrives once.
    telemetry.event(Object.defineProperties({}, {
      a: getter("a", () => {
        telemetry.event("from a");
        return 1;
      }),
      deep: { enumerable: true, value: { x: 1 } },
    }));
    // Strings and a getter before a string too long for a field, then a key after it.
    telemetry.event(Object.defineProperties({ s: "short" }, {
      g: getter("g", () => 2),
      long: { enumerable: true, value: "x".repeat(100) },
      after: getter("after", () => true),
    }));
    // A getter that throws between two keys.
    telemetry.event(Object.defineProperties({ a: 2 }, {
      b: getter("b", () => {
        throw new Error("no b");
      }),
      c: { enumerable: true, value: 3 },
    }));
    // Following the last shape ({ a, b, c }), then a value of no field type.
    telemetry.event({ a: 1, b: "s", c: 2 });
    telemetry.event(Object.defineProperties({ a: 1, b: "s" }, { c: getter("c", () => [1]) }));
    // More keys than a shape holds.
    const wide: Record<string, unknown> = {};
    for (let k = 0; k < 20; k++) wide[`k${k}`] = k;
    telemetry.event(Object.defineProperties(wide, { z: getter("z", () => "last") }));
    await telemetry.stop();
    assertEquals(reads, { a: 1, g: 1, after: 1, b: 1, c: 1, z: 1 });
    const got = readNdjson(path).map((l) => l.value);
    assertEquals(got, [
      "from a",
      { a: 1, deep: { x: 1 } },
      { s: "short", g: 2, long: `${"x".repeat(64)}…[truncated: 36 of 100 characters cut]`, after: true },
      { a: 2, b: "[Unserializable: no b]", c: 3 },
      { a: 1, b: "s", c: 2 },
      { a: 1, b: "s", c: [1] },
      { ...Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`k${k}`, k])), z: "last" },
    ]);
  });

  test("objects past the number of shapes are copied as read, each getter once", async () => {
    const path = join(tempDir(), "many_shapes.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    let reads = 0;
    for (let i = 0; i <= MAX_SHAPES; i++) {
      telemetry.event(
        Object.defineProperty({ [`k${i}`]: "v" }, "n", { enumerable: true, get: () => ++reads }),
      );
    }
    await telemetry.stop();
    assertEquals(reads, MAX_SHAPES + 1);
    const got = readNdjson(path).map((l) => l.value);
    assertEquals(got.length, MAX_SHAPES + 1);
    assertEquals(got.at(-1), { [`k${MAX_SHAPES}`]: "v", n: MAX_SHAPES + 1 });
  });

  test("a flat object's getter runs once, whichever shape came before, and its first value is reported", async () => {
    const path = join(tempDir(), "getter_once.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    let reads = 0;
    const counted = (before: Record<string, unknown>) =>
      Object.defineProperty({ ...before }, "n", { enumerable: true, get: () => ++reads });
    telemetry.event(counted({})); // no earlier shape
    telemetry.event(counted({})); // the same shape
    telemetry.event(counted({ a: 1 })); // leaves the last shape at its first key
    telemetry.event({ a: 1, n: "text" }); // the same keys, another type
    telemetry.event(counted({ a: 1 })); // leaves the last shape at its second value's type
    telemetry.event({ a: 1, n: 1, z: true });
    telemetry.event(counted({ a: 1 })); // fewer keys than the last shape
    await telemetry.stop();
    assertEquals(reads, 5);
    const got = readNdjson(path).map((l) => l.value);
    assertEquals(got, [{ n: 1 }, { n: 2 }, { a: 1, n: 3 }, { a: 1, n: "text" }, { a: 1, n: 4 }, {
      a: 1,
      n: 1,
      z: true,
    }, { a: 1, n: 5 }]);
  });
});
