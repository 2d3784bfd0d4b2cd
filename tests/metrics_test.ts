import { describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { delay } from "@std/async/delay";
import {
  type HistogramSeries,
  type MetricSeries,
  type MetricsSnapshot,
  type RunSummary,
  startTelemetry,
  type TelemetryOptions,
  type TelemetryRecord,
} from "../mod.ts";
import { tempDir } from "./_helpers.ts";

const CAPTURE = new URL("./fixtures/capture_sink.ts", import.meta.url);

interface Captured {
  snapshots: MetricsSnapshot[];
  records: TelemetryRecord[];
  events: unknown[];
  summary: RunSummary | undefined;
}

function capture(options: Omit<TelemetryOptions, "sinks"> = {}) {
  const path = join(tempDir(), "capture.jsonl");
  const start = () =>
    startTelemetry({ ...options, sinks: [{ kind: "custom", module: CAPTURE, options: { path } }] });
  const read = (): Captured => {
    const out: Captured = { snapshots: [], records: [], events: [], summary: undefined };
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (line === "") continue;
      const entry = JSON.parse(line, (_key, value) => (value === "NaN" ? NaN : value));
      if (entry.call === "metrics") out.snapshots.push(entry.snapshot);
      if (entry.call === "records") out.records.push(...entry.records);
      if (entry.call === "handle") out.events.push(...entry.values);
      if (entry.call === "close") out.summary = entry.summary;
    }
    return out;
  };
  return { start, read };
}

function series(snapshot: MetricsSnapshot | undefined, name: string, labels: Record<string, string> = {}) {
  const found = snapshot?.series.find((s) =>
    s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)
  );
  assert(
    found,
    `series ${name} ${JSON.stringify(labels)} in ${JSON.stringify(snapshot?.series.map((s) => s.name))}`,
  );
  return found as MetricSeries;
}

describe("metric handles", () => {
  test("stop() hands the sinks a final snapshot with every counter, gauge and histogram update", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    const rows = telemetry.counter("rows", { stage: "load" }, { unit: "rows", description: "Rows read" });
    const temperature = telemetry.gauge("temperature");
    const size = telemetry.histogram("size", {}, { buckets: [1, 10, 100] });
    for (let i = 0; i < 1000; i++) {
      rows.add();
      size.record(i % 200);
    }
    rows.add(0.5);
    temperature.set(21);
    temperature.set(-3.5);
    const report = await telemetry.stop();
    assertEquals(report.invalid, 0);
    assertEquals(report.sent, 1000, "histogram values are counted like events");
    assertEquals(report.handled, 1000);
    const final = read().snapshots.at(-1)!;
    assert(final.final);
    assertEquals(series(final, "rows", { stage: "load" }), {
      kind: "counter",
      name: "rows",
      labels: { stage: "load" },
      unit: "rows",
      description: "Rows read",
      value: 1000.5,
    });
    assertEquals((series(final, "temperature") as { value: number }).value, -3.5);
    const h = series(final, "size") as HistogramSeries;
    assertEquals(h.count, 1000);
    assertEquals(h.sum, 5 * (199 * 200) / 2);
    assertEquals([h.min, h.max], [0, 199]);
    assertEquals(h.bounds, [1, 10, 100]);
    // values 0..199 five times: <=1: 0,1; <=10: 2..10; <=100: 11..100; the rest above.
    assertEquals(h.counts, [10, 45, 450, 495]);
    assertAlmostEquals(h.p50, 99.5, 99.5 * 0.02);
    assertAlmostEquals(h.p99, 197, 197 * 0.02);
  });

  test("the same name and labels give the same handle; another kind of the same name throws at creation", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    const a = telemetry.counter("hits", { b: "2", a: "1" });
    const b = telemetry.counter("hits", { a: "1", b: "2" });
    assert(a === b);
    a.add(1);
    b.add(2);
    assertThrows(() => telemetry.gauge("hits"), TypeError, "is a counter");
    assertThrows(() => telemetry.counter(""), TypeError, "Invalid metric name");
    assertThrows(() => telemetry.counter("x", { n: 1 as unknown as string }), TypeError, "expected a string");
    assertThrows(() => telemetry.histogram("h", {}, { buckets: [2, 1] }), TypeError, "ascending");
    await telemetry.stop();
    assertEquals((series(read().snapshots.at(-1), "hits", { b: "2", a: "1" }) as { value: number }).value, 3);
  });

  test("bad values are ignored and counted in invalid, never thrown", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    const counter = telemetry.counter("c");
    const gauge = telemetry.gauge("g");
    const histogram = telemetry.histogram("h");
    counter.add(-1);
    counter.add(NaN);
    counter.add(Infinity);
    counter.add("5" as unknown as number);
    counter.add(4);
    gauge.set(NaN);
    gauge.set(undefined as unknown as number);
    histogram.record(NaN);
    histogram.record(-Infinity);
    histogram.record(null as unknown as number);
    histogram.record(7);
    telemetry.progress(-1);
    telemetry.progress(1, NaN);
    telemetry.log("loud" as "info", "unknown level");
    assertEquals(telemetry.stats.invalid, 12);
    const report = await telemetry.stop();
    assertEquals(report.invalid, 12);
    assertEquals(report.producers[0]!.invalid, 12);
    const { snapshots, records } = read();
    const final = snapshots.at(-1)!;
    assertEquals((series(final, "c") as { value: number }).value, 4);
    assertEquals(final.series.some((s) => s.name === "g"), false, "a gauge never set has no series");
    assertEquals((series(final, "h") as HistogramSeries).count, 1);
    assertEquals(records.map((r) => r.type === "log" ? r.level : r.type), ["progress", "info"]);
  });

  test("timers record milliseconds, for functions and for promises", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    const done = telemetry.timer("step").start();
    await delay(20);
    const elapsed = done();
    assertEquals(done(), elapsed, "a second call returns the same duration without recording again");
    assertEquals(telemetry.time("sync", () => 6 * 7), 42);
    assertEquals(await telemetry.time("async", () => delay(10).then(() => "ok")), "ok");
    assertThrows(
      () =>
        telemetry.time("throws", () => {
          throw new Error("boom");
        }),
      Error,
      "boom",
    );
    await telemetry.stop();
    const final = read().snapshots.at(-1);
    const step = series(final, "step") as HistogramSeries;
    assertEquals([step.count, step.unit], [1, "ms"]);
    assert(step.sum >= 15 && step.sum === elapsed, `step ${step.sum} ms`);
    assert((series(final, "async") as HistogramSeries).sum >= 5);
    assertEquals((series(final, "throws") as HistogramSeries).count, 1);
  });

  test("histogram quantiles are within 1% of the exact ones over six decades", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    const latency = telemetry.histogram("latency");
    const values: number[] = [];
    let seed = 1;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 16807) % 2147483647;
      const value = Math.exp((seed / 2147483647) * Math.log(1e6)) / 1000; // 0.001 to 1000, log-uniform
      values.push(value);
      latency.record(value);
    }
    await telemetry.stop();
    values.sort((a, b) => a - b);
    const h = series(read().snapshots.at(-1), "latency") as HistogramSeries;
    for (const [q, got] of [[0.5, h.p50], [0.9, h.p90], [0.99, h.p99]] as const) {
      const exact = values[Math.round(q * (values.length - 1))]!;
      assertAlmostEquals(got, exact, exact * 0.011, `p${q * 100}`);
    }
  });

  test("snapshots arrive every metricsInterval while the run goes", async () => {
    const { start, read } = capture({ metricsInterval: 30 });
    const telemetry = await start();
    const ticks = telemetry.counter("ticks");
    for (let i = 0; i < 8; i++) {
      ticks.add();
      await delay(20);
    }
    await telemetry.stop();
    const { snapshots } = read();
    const running = snapshots.filter((s) => !s.final);
    assert(running.length >= 2, `${running.length} snapshots in 160 ms at a 30 ms interval`);
    const values = snapshots.map((s) => (series(s, "ticks") as { value: number }).value);
    assert(values.every((v, i) => i === 0 || v >= values[i - 1]!), `counter totals never go down: ${values}`);
    assertEquals(values.at(-1), 8);
    assertEquals(snapshots.filter((s) => s.final).length, 1);
  });

  test("past maxLabelSets, a metric's new label sets share one overflow series", async () => {
    const { start, read } = capture({ maxLabelSets: 3 });
    const telemetry = await start();
    for (let i = 0; i < 6; i++) telemetry.counter("per_user", { user: `u${i}` }).add(i);
    await telemetry.stop();
    const final = read().snapshots.at(-1)!;
    const users = final.series.filter((s) => s.name === "per_user");
    assertEquals(users.length, 4);
    assertEquals(
      (series(final, "per_user", { "otel.metric.overflow": "true" }) as { value: number }).value,
      3 + 4 + 5,
    );
  });
});

describe("metric handles: faults", () => {
  test("a handle refused at creation leaves the run working: later handles, events and stop() are exact", async () => {
    const { start, read } = capture({ metricsInterval: 20 });
    const telemetry = await start();
    // The first handle of a thread is refused: no id or shared memory may be taken for it.
    assertThrows(() => telemetry.histogram("h", {}, { buckets: [2, 1] }), TypeError);
    assertThrows(() => telemetry.counter("a", {}, { description: 5 as unknown as string }), TypeError);
    telemetry.counter("rows").add(1);
    await delay(60); // a few snapshots read the cells meanwhile
    telemetry.event("hello");
    const report = await telemetry.stop();
    assert(report.confirmed);
    assertEquals([report.handled, report.errors], [1, 0]);
    const { snapshots, events } = read();
    assertEquals(events, ["hello"]);
    assertEquals((series(snapshots.at(-1), "rows") as { value: number }).value, 1);
  });

  test("a gauge is the last value set, also when a value is set again after another thread's", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    const gauge = telemetry.gauge("g");
    gauge.set(5);
    await telemetry.flush();
    const worker = new Worker(new URL("./fixtures/gauge_worker.ts", import.meta.url));
    const port = telemetry.connect("w");
    worker.postMessage({ port }, [port as never]);
    await new Promise((resolve) => worker.once("message", resolve));
    await telemetry.flush();
    gauge.set(5);
    await telemetry.stop();
    await worker.terminate();
    const values = read().snapshots.map((s) => (series(s, "g") as { value: number }).value);
    assertEquals(values, [5, 3, 5]);
  });

  test('a label or key named "__proto__" stays a label or key', async () => {
    const { start, read } = capture();
    const telemetry = await start();
    telemetry.counter("c", JSON.parse('{"__proto__":"x"}')).add(1);
    telemetry.counter("c").add(2);
    telemetry.event(JSON.parse('{"__proto__":5,"a":1}'));
    telemetry.event({ x: JSON.parse('{"__proto__":{"y":1},"z":2}') });
    await telemetry.stop();
    const { snapshots, events } = read();
    const final = snapshots.at(-1)!;
    assertEquals(
      final.series.filter((s) => s.name === "c").map((
        s,
      ) => [Object.entries(s.labels), (s as { value: number }).value]),
      [
        [[["__proto__", "x"]], 1],
        [[], 2],
      ],
    );
    assertEquals(events.map((e) => JSON.stringify(e)), [
      '{"__proto__":5,"a":1}',
      '{"x":{"__proto__":{"y":1},"z":2}}',
    ]);
  });
});

describe("logs, spans and progress", () => {
  test("bad input never throws: unprintable messages, throwing attributes, null parents, odd labels", async () => {
    const { start, read } = capture({ maxEventBytes: 64 });
    const telemetry = await start();
    const hostile = {
      toString() {
        throw new Error("no text");
      },
    };
    telemetry.log("info", Object.create(null));
    telemetry.log("info", hostile as unknown as string);
    telemetry.log("info", "x".repeat(100), { long: "y".repeat(100) });
    const getter = {
      get a(): number {
        throw new Error("no a");
      },
    };
    const span = telemetry.span("s", getter);
    span.setAttribute(Object.create(null), 1);
    span.end(Object.create(null));
    telemetry.span(Object.create(null)).end();
    telemetry.span(
      "t",
      new Proxy({}, {
        ownKeys() {
          throw new Error("no keys");
        },
      }),
    ).end();
    telemetry.span("u", {}, null).end();
    telemetry.span("v", {}, { traceId: "nope", spanId: "1" }).end();
    telemetry.progress(1, 2, Object.create(null));
    const report = await telemetry.stop();
    const { records } = read();
    assertEquals(records.length, 9);
    assertEquals(report.invalid, 1, "the malformed parent");
    const logs = records.filter((r) => r.type === "log") as Array<
      { message: string; fields: Record<string, string> }
    >;
    assertEquals(logs[1]!.message, "[Unserializable: no text]");
    assert(
      logs[2]!.message.length < 120 && logs[2]!.message.includes("[truncated: 36 of 100"),
      logs[2]!.message,
    );
    assert(logs[2]!.fields.long!.includes("[truncated:"), "fields are cut by maxEventBytes too");
    assert(report.truncated >= 2);
    const spans = records.filter((r) => r.type === "span") as Array<
      { attributes: Record<string, unknown>; status: string }
    >;
    assertEquals(spans[0]!.attributes.a, "[Unserializable: no a]");
    assertEquals(spans[0]!.status, "error");
  });

  test("records reach the sinks in order with their producer, times and ids", async () => {
    const { start, read } = capture();
    const before = performance.timeOrigin + performance.now();
    const telemetry = await start();
    telemetry.log("warn", "disk almost full", { free: 0.05, mount: "/data" });
    const fit = telemetry.span("fit", { rows: 10 });
    const step = fit.span("step");
    step.setAttribute("i", 1);
    step.end();
    step.end();
    fit.end(new Error("diverged"));
    telemetry.progress(5, 10, "fit");
    telemetry.progress(7);
    await telemetry.stop();
    const after = performance.timeOrigin + performance.now();
    const { records } = read();
    assertEquals(records.map((r) => r.type), ["log", "span", "span", "progress", "progress"]);
    const [log, child, parent, progress, unlabelled] = records as [
      Extract<TelemetryRecord, { type: "log" }>,
      Extract<TelemetryRecord, { type: "span" }>,
      Extract<TelemetryRecord, { type: "span" }>,
      Extract<TelemetryRecord, { type: "progress" }>,
      Extract<TelemetryRecord, { type: "progress" }>,
    ];
    assertEquals([log.level, log.message, log.fields, log.producer.name], [
      "warn",
      "disk almost full",
      { free: 0.05, mount: "/data" },
      "main",
    ]);
    assert(log.time >= before && log.time <= after);
    assertEquals(child.name, "step");
    assertEquals(child.traceId, parent.traceId);
    assertEquals(child.parentSpanId, parent.spanId);
    assertEquals(parent.parentSpanId, undefined);
    assert(/^[0-9a-f]{32}$/.test(parent.traceId) && /^[0-9a-f]{16}$/.test(parent.spanId));
    assertEquals(child.attributes, { i: 1 });
    assertEquals([parent.status, parent.statusMessage, parent.attributes], ["error", "diverged", {
      rows: 10,
    }]);
    assert(parent.startTime <= child.startTime && child.endTime <= parent.endTime);
    assertEquals([progress.label, progress.done, progress.total], ["fit", 5, 10]);
    assertEquals([unlabelled.label, unlabelled.done, unlabelled.total], ["main", 7, undefined]);
  });

  test("compute workers report metrics, logs and progress through their ports; series merge across threads", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    telemetry.counter("rows", { stage: "fit" }).add(1);
    const workers = [0, 1].map(async (i) => {
      const worker = new Worker(new URL("./fixtures/metrics_worker.ts", import.meta.url));
      const port = telemetry.connect(`worker-${i}`);
      worker.postMessage({ port, count: 500 }, [port as never]);
      await new Promise((resolve) => worker.once("message", resolve));
      await worker.terminate();
    });
    await Promise.all(workers);
    const report = await telemetry.stop();
    assert(report.confirmed);
    const { snapshots, records, summary } = read();
    const final = snapshots.at(-1);
    assertEquals((series(final, "rows", { stage: "fit" }) as { value: number }).value, 1 + 2 * 500 * 2);
    assertEquals((series(final, "size") as HistogramSeries).count, 1000);
    const progress = records.filter((r) => r.type === "progress").map((r) => r.label).sort();
    assertEquals(progress, ["worker-0", "worker-1"]);
    assertEquals(summary!.producers.map((p) => [p.name, p.sent, p.handled, p.dropped]), [
      ["main", 0, 0, 0],
      ["worker-0", 502, 502, 0],
      ["worker-1", 502, 502, 0],
    ]);
  });

  test("close() gets the run summary with every producer's counts and the sinks' errors", async () => {
    const { start, read } = capture();
    const telemetry = await start();
    for (let i = 0; i < 10; i++) telemetry.event(i);
    await telemetry.stop();
    telemetry.event(11);
    const { summary, events } = read();
    assertEquals(events, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert(summary!.endTime >= summary!.startTime);
    assertEquals(summary!.producers, [{ name: "main", sent: 10, handled: 10, dropped: 0 }]);
    assertEquals(summary!.sinks, [{ name: "createSink", errors: 0 }]);
  });
});
