import { describe, test } from "node:test";
import { join } from "node:path";
import { assert, assertEquals, assertLess, assertStringIncludes } from "@std/assert";
import { startTelemetry } from "../mod.ts";
import { readNdjson, runScript, tempDir } from "./_helpers.ts";

// Literal URLs, so the npm build rewrites them to the compiled .js fixtures.
const BACKPRESSURE = new URL("./fixtures/backpressure.ts", import.meta.url);
const EXIT_SINK = new URL("./fixtures/exit_sink.ts", import.meta.url);
const STUCK_SINK = new URL("./fixtures/stuck_sink.ts", import.meta.url);
const CYCLES = new URL("./fixtures/cycles.ts", import.meta.url);

describe("backpressure", () => {
  // The bound: 1,048,576 queued numbers at ~17 bytes each is 17 MiB; 160 MiB leaves room for the runtime's own
  // allocation and the messages in flight, and is far below the ~400 MiB that 5,000,000 unbounded events would take.
  const RSS_BOUND_MIB = 160;

  test(`"drop": 5,000,000 events into a 1 ms/batch sink: memory bounded, sent == handled + dropped, one warning`, async () => {
    const result = await runScript(BACKPRESSURE, ["drop"], 120_000);
    assertEquals(result.code, 0, result.stderr);
    const counts = JSON.parse(result.stdout);
    assertEquals(counts.sent, 5_000_000);
    assertEquals(counts.sent, counts.handled + counts.dropped);
    assert(counts.dropped > 0, "the sink is slower than the sender, so some events are dropped");
    assertLess(counts.growthMiB, RSS_BOUND_MIB);
    assertEquals(result.stderr.match(/new events are dropped/g)?.length, 1, result.stderr);
  });

  test(`"block": the sender waits instead, nothing is dropped`, async () => {
    const result = await runScript(BACKPRESSURE, ["block"], 120_000);
    assertEquals(result.code, 0, result.stderr);
    const counts = JSON.parse(result.stdout);
    assertEquals(counts, { ...counts, sent: 5_000_000, handled: 5_000_000, dropped: 0 });
    assertLess(counts.growthMiB, RSS_BOUND_MIB);
  });
});

describe("sink and sidecar faults", () => {
  test("the sidecar dies (a sink calls process.exit): event() keeps not throwing, stop() reports the loss", async () => {
    const telemetry = await startTelemetry({
      batchSize: 1,
      sinks: [{ kind: "custom", module: EXIT_SINK }],
    });
    telemetry.event(1);
    telemetry.event("die");
    // Wait for the sidecar to go: its handled count stops short of sent.
    for (let i = 0; i < 100 && telemetry.stats.dropped === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    telemetry.event(2);
    telemetry.event(3);
    const started = performance.now();
    const report = await telemetry.stop();
    assertLess(performance.now() - started, 1_000, "stop() answers at once for a dead sidecar");
    assertEquals(report.confirmed, false);
    assertEquals(report.sent, 4);
    assertEquals(report.handled, 1);
    assertEquals(report.dropped, 3);
  });

  test('"block" with a dead sidecar gives up once, then drops at once: no wait per event', async () => {
    const telemetry = await startTelemetry({
      batchSize: 10,
      maxQueued: 100,
      overflow: "block",
      sinks: [{ kind: "custom", module: EXIT_SINK }],
    });
    telemetry.event("die");
    for (let i = 0; i < 100 && telemetry.stats.dropped === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const started = performance.now();
    for (let i = 0; i < 1_000; i++) telemetry.event(i);
    // Each event would wait a second if blocking were retried; all of them together take far less.
    assertLess(performance.now() - started, 1_500);
    const report = await telemetry.stop();
    assertEquals(report.sent, 1_001);
    assertEquals(report.sent, report.handled + report.dropped);
  });

  test("stop({ timeout }) with a sink that never settles: the worker is terminated, unconfirmed events counted", async () => {
    const telemetry = await startTelemetry({
      batchSize: 1,
      sinks: [{ kind: "custom", module: STUCK_SINK }],
    });
    telemetry.event(1);
    telemetry.event("stick");
    telemetry.event(2);
    const started = performance.now();
    const report = await telemetry.stop({ timeout: 500 });
    // 500 ms timeout; 3 s leaves room for a loaded machine, and is far below a hang.
    assertLess(performance.now() - started, 3_000);
    assertEquals(report.confirmed, false);
    assertEquals(report.handled, 1);
    assertEquals(report.dropped, 2);
    assertEquals(report.sent, report.handled + report.dropped);
  });

  test("an error thrown on the sidecar's thread outside a sink call is counted; the sidecar goes on", async () => {
    const result = await runScript(new URL("./fixtures/stray_errors.ts", import.meta.url), [], 30_000);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(JSON.parse(result.stdout), {
      sent: 3,
      handled: 3,
      dropped: 0,
      confirmed: true,
      errors: 2,
      sidecar: { name: "sidecar", errors: 2, firstError: "stray rejection" },
    });
    assertEquals(
      result.stderr.match(/Telemetry sidecar error outside a sink call: stray rejection/g)?.length,
      1,
    );
  });

  test("100 start/stop cycles in one process: every stop confirmed, and the process exits by itself", async () => {
    // 60 s: a cycle takes well under 200 ms even on a loaded machine.
    const result = await runScript(CYCLES, [], 60_000);
    assertEquals(result.signal, null, "the process did not exit by itself");
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(result.stdout, "confirmed 100");
  });
});

describe("bad input", () => {
  class Point {
    x = 1;
    y = 2;
    get length(): number {
      throw new Error("no length");
    }
    norm(): number {
      return 0;
    }
  }

  test("values structured clone refuses or mangles arrive as plain data by the documented rules", async () => {
    const path = join(tempDir(), "bad.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    const error = new TypeError("bad step");
    const throwing = new Proxy({}, {
      ownKeys() {
        throw new Error("no keys");
      },
    });
    const sent: unknown[] = [
      function compute() {},
      Symbol("tag"),
      new Point(),
      error,
      new URL("https://example.test/a?b=1"),
      new WeakMap(),
      { f: () => 1, u: new URL("file:///x"), w: new WeakSet(), nested: [Symbol.iterator] },
      throwing,
      "next",
    ];
    for (const value of sent) telemetry.event(value);
    const report = await telemetry.stop();
    assertEquals(report.handled, sent.length);
    const values = readNdjson(path).map((l) => l.value);
    assertEquals(values, [
      "[Function compute]",
      "Symbol(tag)",
      { x: 1, y: 2 },
      { name: "TypeError", message: "bad step", stack: error.stack },
      "https://example.test/a?b=1",
      "[WeakMap]",
      { f: "[Function f]", u: "file:///x", w: "[WeakSet]", nested: ["Symbol(Symbol.iterator)"] },
      "[Unserializable: no keys]",
      "next",
    ]);
  });

  test("an object changed after event() is reported as it was at the call", async () => {
    const path = join(tempDir(), "mutate.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    const progress = { step: 0, tags: ["a"] };
    for (let step = 1; step <= 3; step++) {
      progress.step = step;
      progress.tags.push(String(step));
      telemetry.event(progress);
    }
    await telemetry.stop();
    assertEquals(readNdjson(path).map((l) => l.value), [
      { step: 1, tags: ["a", "1"] },
      { step: 2, tags: ["a", "1", "2"] },
      { step: 3, tags: ["a", "1", "2", "3"] },
    ]);
  });

  test("an Error is reported the same whatever else is in its batch, with its name, own properties and cause", async () => {
    class ValidationError extends Error {
      override name = "ValidationError";
      field = "email";
    }
    const cause = new RangeError("too long");
    const error = new ValidationError("invalid input", { cause });
    const path = join(tempDir(), "errors.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    telemetry.event(error);
    await telemetry.flush();
    telemetry.event(error);
    telemetry.event(() => 1);
    await telemetry.stop();
    const expected = {
      name: "ValidationError",
      message: "invalid input",
      stack: error.stack,
      cause: { name: "RangeError", message: "too long", stack: cause.stack },
      field: "email",
    };
    const values = readNdjson(path).map((l) => l.value);
    assertEquals(values, [expected, expected, "[Function (anonymous)]"]);
  });

  test("a value too deep or a revoked Proxy becomes a marker; the rest of its batch arrives and counts stay exact", async () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 50_000; i++) deep = { d: deep };
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const path = join(tempDir(), "deep.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    telemetry.event(1);
    telemetry.event(deep);
    telemetry.event(proxy);
    telemetry.event(2);
    const report = await telemetry.stop();
    assertEquals(report, { ...report, sent: 4, handled: 4, dropped: 0, confirmed: true });
    const values = readNdjson(path).map((l) => l.value) as unknown[];
    assertEquals(values.length, 4);
    assertEquals(values[0], 1);
    assertStringIncludes(JSON.stringify(values[1]), "[Too deep]");
    assertStringIncludes(String(values[2]), "[Unserializable:");
    assertEquals(values[3], 2);
  });

  test("a throwing getter loses only its own property; buffers are written as bytes; cuts keep surrogate pairs", async () => {
    const path = join(tempDir(), "edges.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }], maxEventBytes: 64 });
    telemetry.event({
      ok: 1,
      get bad(): number {
        throw new Error("nope");
      },
    });
    telemetry.event(new Uint8Array([1, 2, 3]).buffer);
    telemetry.event(new DataView(new Uint8Array([9, 8]).buffer));
    telemetry.event("x".repeat(63) + "😀" + "tail");
    await telemetry.stop();
    const values = readNdjson(path).map((l) => l.value);
    assertEquals(values.slice(0, 3), [{ ok: 1, bad: "[Unserializable: nope]" }, [1, 2, 3], [9, 8]]);
    assertEquals(values[3], "x".repeat(63) + "…[truncated: 6 of 69 characters cut]");
  });

  test("a 50 MB string is cut to maxEventBytes with a visible marker and counted; later events arrive", async () => {
    const path = join(tempDir(), "big.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    telemetry.event("x".repeat(50_000_000));
    telemetry.event("after");
    const report = await telemetry.stop();
    assertEquals(report.truncated, 1);
    const values = readNdjson(path).map((l) => l.value) as string[];
    assertEquals(values.length, 2);
    assertEquals(values[0]!.length, 1_048_576 + "…[truncated: 48951424 of 50000000 characters cut]".length);
    assert(values[0]!.endsWith("…[truncated: 48951424 of 50000000 characters cut]"));
    assertEquals(values[1], "after");
  });

  test("NaN, Infinity, -Infinity, -0 and BigInt events are written as valid JSON", async () => {
    const path = join(tempDir(), "numbers.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    for (const value of [NaN, Infinity, -Infinity, -0, 2n ** 70n, { n: NaN }]) telemetry.event(value);
    await telemetry.stop();
    assertEquals(readNdjson(path).map((l) => l.value), [
      "NaN",
      "Infinity",
      "-Infinity",
      0,
      "1180591620717411303424",
      { n: "NaN" },
    ]);
  });
});
