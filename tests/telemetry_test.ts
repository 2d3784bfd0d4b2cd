import { describe, test } from "node:test";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { startTelemetry, stopTelemetry } from "../mod.ts";
import { COLLECT, collectArray } from "./_helpers.ts";

const COLLECT_SINK = new URL("./fixtures/collect_sink.ts", import.meta.url);

function collecting(shared: Int32Array, delayMs = 0) {
  return { kind: "custom" as const, module: COLLECT_SINK, options: { shared, delayMs } };
}

describe("stop()", () => {
  test("stop() handles every event sent before it, in order (100,000 events)", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({ sinks: [collecting(shared)] });
    for (let i = 0; i < 100_000; i++) telemetry.event(i);
    const report = await telemetry.stop();
    assertEquals(Atomics.load(shared, COLLECT.count), 100_000);
    assertEquals(Atomics.load(shared, COLLECT.orderErrors), 0);
    assertEquals(Atomics.load(shared, COLLECT.closed), 1);
    assertEquals(report.sent, 100_000);
    assertEquals(report.handled, 100_000);
    assertEquals(report.dropped, 0);
    assertEquals(report.errors, 0);
    assert(report.confirmed);
  });

  test("stop() with an invalid timeout rejects with a TypeError and does not stop; null and Infinity are fine", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    for (const timeout of [-1, 0, NaN, "5" as unknown as number]) {
      await assertRejects(() => telemetry.stop({ timeout }), TypeError, "Invalid option timeout");
    }
    telemetry.event(1);
    const report = await telemetry.stop({ timeout: Infinity });
    assertEquals(report.confirmed, true);
    assertEquals(report.handled, 1);
    assertStrictEquals(await telemetry.stop(null), report);
  });

  test("stop() twice returns the same report", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    telemetry.event(1);
    const first = await telemetry.stop();
    const second = await telemetry.stop();
    assertStrictEquals(first, second);
    assertEquals(first.handled, 1);
  });

  test("stopTelemetry() is stop()", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    telemetry.event(42);
    const report = await stopTelemetry(telemetry);
    assertStrictEquals(report, await telemetry.stop());
    assertEquals(report.handled, 1);
  });

  test("event() after stop() is counted as dropped, not thrown", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    telemetry.event("before");
    await telemetry.stop();
    telemetry.event("after");
    telemetry.event({ late: true });
    assertEquals(telemetry.stats, { sent: 3, handled: 1, dropped: 2, invalid: 0, errors: 0 });
  });

  test("stop() waits for an async sink", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({ sinks: [collecting(shared, 20)], batchSize: 10 });
    for (let i = 0; i < 50; i++) telemetry.event(i);
    const report = await telemetry.stop();
    // Five batches at 20 ms each: stop() resolved after all of them and after close().
    assertEquals(Atomics.load(shared, COLLECT.count), 50);
    assertEquals(Atomics.load(shared, COLLECT.closed), 1);
    assertEquals(report.handled, 50);
  });

  test("await using stops the telemetry at scope end", async () => {
    const shared = collectArray();
    {
      await using telemetry = await startTelemetry({ sinks: [collecting(shared)] });
      for (let i = 0; i < 10; i++) telemetry.event(i);
    }
    assertEquals(Atomics.load(shared, COLLECT.count), 10);
    assertEquals(Atomics.load(shared, COLLECT.closed), 1);
  });
});

describe("flush()", () => {
  test("flush() resolves after every earlier event was handled; the sidecar keeps running", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({ sinks: [collecting(shared, 5)], batchSize: 100 });
    for (let i = 0; i < 1_000; i++) telemetry.event(i);
    await telemetry.flush();
    assertEquals(Atomics.load(shared, COLLECT.count), 1_000);
    assertEquals(Atomics.load(shared, COLLECT.flushes), 1);
    assertEquals(telemetry.stats, { sent: 1_000, handled: 1_000, dropped: 0, invalid: 0, errors: 0 });
    for (let i = 1_000; i < 1_500; i++) telemetry.event(i);
    const report = await telemetry.stop();
    assertEquals(Atomics.load(shared, COLLECT.count), 1_500);
    assertEquals(Atomics.load(shared, COLLECT.orderErrors), 0);
    assertEquals(report.handled, 1_500);
  });

  test("flush() resolves true when confirmed, many times over; false after stop()", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    for (let i = 0; i < 200; i++) {
      telemetry.event(i);
      assertEquals(await telemetry.flush(), true);
    }
    await telemetry.stop();
    assertEquals(await telemetry.flush(), false);
  });
});

describe("values", () => {
  test("values structured clone refuses arrive as plain data and later events still arrive", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({ sinks: [collecting(shared)] });
    telemetry.event(0);
    telemetry.event(function compute() {});
    telemetry.event(1);
    const report = await telemetry.stop();
    assertEquals(report.handled, 3);
    assertEquals(Atomics.load(shared, COLLECT.orderErrors), 0);
  });
});
