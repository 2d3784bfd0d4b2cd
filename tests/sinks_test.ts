import { describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { startTelemetry } from "../mod.ts";
import { formatValue } from "../src/sinks/_format.ts";
import { toJsonLine } from "../src/sinks/_json.ts";
import { readNdjson, tempDir } from "./_helpers.ts";

describe("NDJSON sink", () => {
  test("writes one object per event with its time, producer and value", async () => {
    const path = join(tempDir(), "run.ndjson");
    const before = performance.timeOrigin + performance.now();
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    telemetry.event(42);
    telemetry.event("late");
    telemetry.event({ step: 3, loss: 0.25, phase: "fit" });
    await telemetry.stop();
    const after = performance.timeOrigin + performance.now();
    const lines = readNdjson(path);
    assertEquals(lines.map((l) => l.value), [42, "late", { step: 3, loss: 0.25, phase: "fit" }]);
    assertEquals(lines.map((l) => l.producer), ["main", "main", "main"]);
    for (const line of lines) {
      assert(line.time >= before && line.time <= after, `time ${line.time} within the run`);
    }
    assertAlmostEquals(lines[0]!.time, lines[2]!.time, 1_000);
  });

  test("event times follow the clock in a synchronous stretch, also right after the sidecar was idle", async () => {
    const path = join(tempDir(), "times.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    await new Promise((resolve) => setTimeout(resolve, 200)); // long enough for the idle clock to rest
    for (let k = 0; k < 5; k++) {
      const until = performance.now() + 30;
      while (performance.now() < until) { /* 30 ms of computation between events */ }
      telemetry.event(k);
    }
    await telemetry.stop();
    const times = readNdjson(path).map((l) => l.time);
    for (let k = 1; k < times.length; k++) {
      const gap = times[k]! - times[k - 1]!;
      // 30 ms apart; the clock is read to about a millisecond, and 10 ms covers a busy machine.
      assert(gap > 20 && gap < 40, `gap ${k}: ${gap.toFixed(2)} ms`);
    }
  });

  test("numbers and other values interleaved arrive in order, each as it was sent", async () => {
    const path = join(tempDir(), "mixed.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }], batchSize: 4 });
    const sent = [1, { a: 1 }, "s", 2.5, null, true, [3], -7, "end", 0, { b: [1, 2] }];
    for (const value of sent) telemetry.event(value);
    await telemetry.stop();
    assertEquals(readNdjson(path).map((l) => l.value), sent);
  });

  test("every line is valid JSON for values JSON cannot hold", () => {
    assertEquals(toJsonLine(NaN), '"NaN"');
    assertEquals(toJsonLine(Infinity), '"Infinity"');
    assertEquals(toJsonLine(-Infinity), '"-Infinity"');
    assertEquals(toJsonLine(-0), "0");
    assertEquals(toJsonLine(12345678901234567890n), '"12345678901234567890"');
    assertEquals(toJsonLine(undefined), "null");
    assertEquals(toJsonLine(new Map([["a", 1]])), '[["a",1]]');
    assertEquals(toJsonLine(new Set([1, 2])), "[1,2]");
    assertEquals(toJsonLine(new Float64Array([1.5, NaN])), '[1.5,"NaN"]');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assertEquals(toJsonLine(cyclic), '{"a":1,"self":"[Circular]"}');
  });
});

describe("console sink format", () => {
  test("numbers and strings print as they are, other values compactly", () => {
    assertEquals(formatValue(42), "42");
    assertEquals(formatValue("late"), "late");
    assertEquals(formatValue({ step: 1, phase: "fit" }), '{ step: 1, phase: "fit" }');
    assertEquals(formatValue([1, "a", null, undefined]), '[1, "a", null, undefined]');
    assertEquals(formatValue(12n), "12n");
    assertEquals(formatValue(-0), "-0");
    assertEquals(formatValue(new Map([["k", 1]])), 'Map(1) { "k" => 1 }');
    assertEquals(formatValue(new Set()), "Set(0) {}");
    assertEquals(formatValue({ "two words": true }), '{ "two words": true }');
    assertEquals(formatValue(new Float64Array([0.5, 2])), "Float64Array(2) [0.5, 2]");
  });

  test("control characters are escaped, so values cannot drive the terminal", () => {
    assertEquals(formatValue("a\x1b[2Jb\n"), "a\\x1b[2Jb\\n");
    assertEquals(formatValue({ s: "\x07", "k\x1b": 1 }), String.raw`{ s: "\x07", "k\x1b": 1 }`);
    assertEquals(
      formatValue(new Map([["\x1b[31m", "a\u202eb"]])),
      String.raw`Map(1) { "\x1b[31m" => "a\u202eb" }`,
    );
    assertEquals(formatValue('say "hi" \\ bye'), 'say "hi" \\ bye');
    assertEquals(formatValue(['say "hi" \\']), String.raw`["say \"hi\" \\"]`);
  });
});

describe("custom sinks", () => {
  test("a custom sink module is loaded inside the sidecar with its options", async () => {
    const path = join(tempDir(), "custom.txt");
    const telemetry = await startTelemetry({
      sinks: [{
        kind: "custom",
        module: new URL("./fixtures/file_sink.ts", import.meta.url),
        export: "fileSink",
        options: { path, prefix: "got" },
      }],
    });
    telemetry.event(1);
    telemetry.event("two");
    const report = await telemetry.stop();
    const { readFileSync } = await import("node:fs");
    assertEquals(readFileSync(path, "utf8"), "got main 1\ngot main two\nclosed\n");
    assertEquals(report.sinks, [{ name: "fileSink", errors: 0 }]);
  });

  test("a sink that throws is counted per sink; later events and other sinks go on", async () => {
    const path = join(tempDir(), "other.ndjson");
    const telemetry = await startTelemetry({
      batchSize: 1,
      sinks: [
        {
          kind: "custom",
          module: new URL("./fixtures/failing_sink.ts", import.meta.url),
          options: { failOn: 3 },
        },
        { kind: "ndjson", path },
      ],
    });
    for (let i = 1; i <= 10; i++) telemetry.event(i);
    await telemetry.flush();
    assertEquals(telemetry.stats, { sent: 10, handled: 10, dropped: 0, invalid: 0, errors: 1 });
    const report = await telemetry.stop();
    assertEquals(report.errors, 1);
    assertEquals(report.sinks[0], { name: "createSink", errors: 1, firstError: "sink refuses event 3" });
    assertEquals(readNdjson(path).map((l) => l.value), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assertEquals(report.handled, 10);
  });
});

describe("sinks at stop", () => {
  test("a sink with flush() and no close() gets a last flush() at stop: nothing it buffered is lost", async () => {
    const path = join(tempDir(), "flushed.jsonl");
    const module = new URL("./fixtures/flush_only_sink.ts", import.meta.url);
    const telemetry = await startTelemetry({ sinks: [{ kind: "custom", module, options: { path } }] });
    for (let i = 0; i < 5; i++) telemetry.event(i);
    await telemetry.stop();
    assertEquals(readFileSync(path, "utf8").trim().split("\n").map(Number), [0, 1, 2, 3, 4]);
  });

  test("event() and stop() called from a getter of an event's value: each event handled once, counts exact", async () => {
    const path = join(tempDir(), "reentrant.ndjson");
    const telemetry = await startTelemetry({ sinks: [{ kind: "ndjson", path }] });
    telemetry.event(1);
    telemetry.event({
      a: 1,
      get b(): number {
        telemetry.event("inner");
        return 2;
      },
    });
    telemetry.event(3);
    const report = await telemetry.stop();
    const values = readNdjson(path).map((l) => l.value);
    assert(report.confirmed);
    assertEquals(report.sent, report.handled + report.dropped);
    assertEquals(values[0], 1);
    assertEquals(values.at(-1), 3);
    assertEquals(values.filter((v) => v === 1 || v === 3).length, 2, JSON.stringify(values));
    assert(values.some((v) => typeof v === "object" && (v as { a: number }).a === 1), JSON.stringify(values));

    const path2 = join(tempDir(), "reentrant-stop.ndjson");
    const second = await startTelemetry({ sinks: [{ kind: "ndjson", path: path2 }] });
    second.event(1);
    let stopping: Promise<unknown> | undefined;
    second.event({
      get a(): number {
        stopping ??= second.stop();
        return 1;
      },
    });
    await stopping;
    const stopped = await second.stop();
    assertEquals(readNdjson(path2).map((l) => l.value), [1]);
    assertEquals([stopped.sent, stopped.handled, stopped.dropped], [2, 1, 1]);
  });
});
