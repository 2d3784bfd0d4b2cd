import { describe, test } from "node:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { startTelemetry } from "../mod.ts";
import { chromiumPath, render } from "../scripts/_chromium.ts";
import { formatDuration, formatOffset, formatQuantity, niceTicks } from "../src/sinks/_report_format.ts";
import { Timeline } from "../src/sinks/_timeline.ts";
import { reportSink } from "../src/sinks/report.ts";
import type {
  HistogramSeries,
  MetricSeries,
  ProducerMeta,
  RunSummary,
  Sink,
  TelemetryRecord,
} from "../src/sinks/sink.ts";
import { decodePng } from "./_png.ts";
import { tempDir } from "./_helpers.ts";

const START = Date.UTC(2025, 0, 15, 8, 0, 0);
const MAIN: ProducerMeta = { id: 0, name: "main" };
const WORKER: ProducerMeta = { id: 1, name: "worker-1" };
const HOSTILE = "<script>alert(1)</script>";
const HOSTILE_ID = `${HOSTILE}{<b>="\\"x\\"&<i>"}`;

const LATENCY: HistogramSeries = {
  kind: "histogram",
  name: "latency",
  labels: { route: "/fit" },
  unit: "ms",
  description: "Time per request",
  count: 10,
  sum: 400,
  min: 3,
  max: 180,
  bounds: [10, 50, 100],
  counts: [2, 5, 2, 1],
  p50: 42,
  p90: 99,
  p99: 175,
};

const SUMMARY: RunSummary = {
  startTime: START,
  endTime: START + 10_000,
  deadline: Infinity,
  producers: [
    { name: "main", sent: 40, handled: 40, dropped: 0 },
    { name: "worker-1", sent: 12, handled: 9, dropped: 3 },
  ],
  sinks: [
    { name: "report", errors: 0 },
    { name: "ndjson", errors: 2, firstError: "<img src=x onerror=alert(1)>" },
  ],
};

/**
 * A 10-second run: a counter growing by 500 a second, a gauge, a histogram, a counter with a hostile name and
 * labels, progress of three labels, 30 spans of 1 to 30 ms, logs, and events from two producers.
 */
function feed(sink: Sink): void {
  for (let s = 1; s <= 10; s++) {
    const series: MetricSeries[] = [
      { kind: "counter", name: "rows", labels: {}, unit: "", description: "Rows read", value: 500 * s },
      { kind: "gauge", name: "queue", labels: { worker: "w0" }, unit: "", description: "", value: s % 4 },
      LATENCY,
      {
        kind: "counter",
        name: HOSTILE,
        labels: { "<b>": '"x"&<i>' },
        unit: "<u>",
        description: HOSTILE,
        value: s,
      },
    ];
    sink.metrics!({ startTime: START, time: START + s * 1000, final: s === 10, series });
    sink.records!([
      { type: "progress", producer: MAIN, time: START + s * 1000, label: "load", done: 10 * s, total: 100 },
      { type: "progress", producer: WORKER, time: START + s * 1000, label: "scan", done: 7 * s },
      { type: "progress", producer: WORKER, time: START + s * 1000, label: HOSTILE, done: s, total: 40 },
    ]);
  }
  const records: TelemetryRecord[] = [];
  for (let k = 1; k <= 30; k++) {
    records.push({
      type: "span",
      producer: k % 2 === 0 ? MAIN : WORKER,
      name: k === 29 ? HOSTILE : `step ${k}`,
      traceId: "a".repeat(32),
      spanId: String(k).padStart(16, "0"),
      startTime: START + 100 * k,
      endTime: START + 100 * k + k,
      attributes: {},
      status: k === 30 ? "error" : "unset",
      ...(k === 30 ? { statusMessage: "Diverged" } : {}),
    });
  }
  for (let k = 0; k < 3; k++) records.push(log("info", `note ${k}`, k));
  for (let k = 0; k < 12; k++) records.push(log("error", k === 11 ? HOSTILE : `failure ${k}`, 100 + k));
  records.push(log("warn", "slow", 200));
  sink.records!(records);
  sink.handle!(batch(MAIN, 3));
  sink.handle!(batch(WORKER, 5));
  sink.handle!(batch(MAIN, 4));
}

function log(level: "info" | "warn" | "error", message: string, offset: number): TelemetryRecord {
  return { type: "log", producer: WORKER, time: START + offset, level, message, fields: {} };
}

function batch(producer: ProducerMeta, length: number) {
  return {
    producer,
    length,
    values: new Array(length).fill(0),
    times: new Float64Array(length).fill(START + 50),
  };
}

function writeReport(slowestSpans = 5): { path: string; html: string } {
  const path = join(tempDir(), "report.html");
  const sink = reportSink({ path, title: `Run of ${HOSTILE}`, slowestSpans });
  feed(sink);
  sink.close!(SUMMARY);
  return { path, html: readFileSync(path, "utf8") };
}

type Element = { tag: string; attrs: Record<string, string> };

/** Start tags that carry `attribute`, with their attributes decoded; enough for our own or Chromium's markup. */
function elements(html: string, attribute: string): Element[] {
  const found: Element[] = [];
  for (const match of html.matchAll(/<([a-zA-Z][\w-]*)((?:\s+[^\s=>"'/]+(?:="[^"]*")?)*)\s*\/?>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of match[2]!.matchAll(/([^\s=>"'/]+)(?:="([^"]*)")?/g)) attrs[a[1]!] = decode(a[2] ?? "");
    if (attribute in attrs) found.push({ tag: match[1]!, attrs });
  }
  return found;
}

function decode(text: string): string {
  return text.replace(/&(#\d+|#x[\da-f]+|amp|lt|gt|quot|nbsp);/gi, (_, e: string) => {
    if (e[0] === "#") {
      return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', nbsp: "\u00a0" }[e.toLowerCase()]!;
  });
}

/** The one element whose `attribute` is `value`; span rows, which name their producer, do not count as producers. */
function only(html: string, attribute: string, value: string): Record<string, string> {
  const matches = elements(html, attribute).filter((e) =>
    e.attrs[attribute] === value && (attribute !== "data-producer" || !("data-span" in e.attrs))
  );
  assertEquals(matches.length, 1, `one element with ${attribute}=${value}`);
  return matches[0]!.attrs;
}

const chromium = chromiumPath();
const noBrowser = chromium === undefined ? "Chromium is not installed (set CHROMIUM to its path)" : false;
let rendered: Promise<{ dom: string; png: Uint8Array }> | undefined;
/** The report rendered once by Chromium, shared by the tests that look at its DOM and its screenshot. */
function renderedReport(): Promise<{ dom: string; png: Uint8Array }> {
  rendered ??= render(writeReport().path, { width: 1280, height: 900 });
  return rendered;
}

describe("report sink in a browser", () => {
  test("every metric series has a chart whose numbers match the input", { skip: noBrowser }, async () => {
    const { dom } = await renderedReport();
    const metrics = elements(dom, "data-metric").map((e) => e.attrs["data-metric"]);
    assertEquals(metrics, ["rows", 'queue{worker="w0"}', 'latency{route="/fit"}', HOSTILE_ID]);

    const rows = only(dom, "data-metric", "rows");
    assertEquals([rows["data-kind"], rows["data-value"], rows["data-points"]], ["counter", "5000", "10"]);
    assertEquals(Number(rows["data-rate-peak"]), 500); // 500 more every second
    assertEquals(Number(rows["data-rate-mean"]), 500);
    const queue = only(dom, "data-metric", 'queue{worker="w0"}');
    assertEquals([queue["data-kind"], queue["data-value"], queue["data-min"], queue["data-max"]], [
      "gauge",
      "2",
      "0",
      "3",
    ]);

    const latency = only(dom, "data-metric", 'latency{route="/fit"}');
    for (const key of ["count", "sum", "min", "max", "p50", "p90", "p99"] as const) {
      assertEquals(Number(latency[`data-${key}`]), LATENCY[key], key);
    }
    const bars = elements(dom, "data-bucket");
    assertEquals(bars.map((b) => b.attrs["data-le"]), ["10", "50", "100", "+Inf"]);
    assertEquals(bars.map((b) => Number(b.attrs["data-count"])), [2, 5, 2, 1]);
    assertEquals(elements(dom, "data-quantile").map((q) => q.attrs["data-quantile"]), ["p50", "p90", "p99"]);
    // Each chart is drawn: a line with as many points as snapshots, or the bars above.
    const lines = elements(dom, "data-points").filter((e) => e.tag === "polyline");
    assertEquals(lines.map((l) => l.attrs["data-points"]), ["10", "10", "10", "10", "10", "10"]);
    assertMatch(dom, />10 ms</); // a bucket bound on the latency axis, with its unit
    assertMatch(dom, />4s</); // a tick of the time axis
  });

  test(
    "the run summary shows the run's times and each producer's and sink's counts",
    { skip: noBrowser },
    async () => {
      const { dom } = await renderedReport();
      const run = elements(dom, "data-duration-ms")[0]!.attrs;
      assertEquals([run["data-start"], run["data-end"], run["data-duration-ms"]], [
        String(START),
        String(START + 10_000),
        "10000",
      ]);
      assertEquals(run["data-events"], "12");
      const main = only(dom, "data-producer", "main");
      assertEquals([main["data-events"], main["data-sent"], main["data-handled"], main["data-dropped"]], [
        "7",
        "40",
        "40",
        "0",
      ]);
      const worker = elements(dom, "data-producer").find((e) =>
        e.tag === "tr" && e.attrs["data-producer"] === "worker-1"
      );
      assertEquals(worker?.attrs["data-dropped"], "3");
      assertEquals(only(dom, "data-sink", "ndjson")["data-errors"], "2");
      assertMatch(dom, /2025-01-15 08:00:00\.000 UTC/);
      assertMatch(dom, /2025-01-15 08:00:10\.000 UTC/);
      assertEquals(only(dom, "data-level", "error")["data-count"], "12");
      assertEquals(only(dom, "data-level", "info")["data-count"], "3");
      assertEquals(elements(dom, "data-log").length, 10); // the last ten errors
    },
  );

  test("progress per label and the slowest spans are shown", { skip: noBrowser }, async () => {
    const { dom } = await renderedReport();
    const labels = elements(dom, "data-label").map((e) => e.attrs);
    assertEquals(labels.map((l) => l["data-label"]), ["load", "scan", HOSTILE]);
    assertEquals([labels[0]!["data-done"], labels[0]!["data-total"], labels[0]!["data-percent"]], [
      "100",
      "100",
      "100",
    ]);
    assertEquals(labels[1]!["data-total"], undefined); // no total: shown as units done
    assertEquals(labels[1]!["data-done"], "70");
    assertEquals(labels[2]!["data-percent"], "25");
    const spans = elements(dom, "data-span").map((e) => e.attrs);
    assertEquals(spans.map((s) => s["data-span"]), ["step 30", HOSTILE, "step 28", "step 27", "step 26"]);
    assertEquals(spans.map((s) => Number(s["data-duration-ms"])), [30, 29, 28, 27, 26]);
    assertEquals(spans[0]!["data-status"], "error");
    assertEquals(spans[0]!["data-start-ms"], "3000");
    assertEquals(spans[0]!["data-producer"], "main");
  });

  test(
    "user-supplied strings render as text: no element comes from a hostile name",
    { skip: noBrowser },
    async () => {
      const { dom } = await renderedReport();
      assert(!/<script/i.test(dom), "no script element");
      assert(!/<img/i.test(dom), "no img element");
      assert(!/<i>|<u>|<b>/.test(dom), "no element from labels or units");
      // The text is all there, escaped: in the title, a metric, a label, a span, a log and a sink error.
      const escaped = (dom.match(/&lt;script&gt;alert\(1\)&lt;\/script&gt;/g) ?? []).length;
      assert(escaped >= 6, `the hostile name shows as text ${escaped} times`);
      assertMatch(dom, /&lt;img src=x onerror=alert\(1\)&gt;/);
    },
  );

  test(
    "the screenshot of the report is a picture with charts, not a blank page",
    { skip: noBrowser },
    async () => {
      const image = decodePng((await renderedReport()).png);
      assertEquals([image.width, image.height], [1280, 900]);
      const colours = new Set<number>();
      let inked = 0;
      const { pixels, channels } = image;
      for (let i = 0; i < pixels.length; i += channels) {
        const [r, g, b] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
        colours.add((r << 16) | (g << 8) | b);
        if (r + g + b < 600) inked++;
      }
      // Text, lines and bars in several colours over a light background.
      assert(colours.size > 50, `${colours.size} colours`);
      const share = inked / (image.width * image.height);
      assert(share > 0.01 && share < 0.6, `${(share * 100).toFixed(1)}% of pixels inked`);
    },
  );
});

describe("report sink", () => {
  test("the file exists from the start with a note that the run has not stopped", () => {
    const path = join(tempDir(), "early.html");
    reportSink({ path });
    assertMatch(readFileSync(path, "utf8"), /written when the run stops/);
  });

  test("a file that cannot be created throws when the sink is built", () => {
    assertThrows(() => reportSink({ path: join(tempDir(), "missing", "dir", "r.html") }), Error);
  });

  test("the page is self-contained: no script, no external resource", () => {
    const { html } = writeReport();
    assert(!/<(script|link|img|iframe|object|embed)\b/i.test(html), "no element that runs or loads anything");
    assert(
      !/@import|url\(|\b(src|href)=/i.test(html.replace(/&lt;[^&]*&gt;/g, "")),
      "no reference to a resource",
    );
    assertMatch(html, /^<!doctype html>/);
    assertMatch(html, /<style>/);
  });

  test("a long run keeps at most 500 points per line, and the line ends at the last value", () => {
    const path = join(tempDir(), "long.html");
    const sink = reportSink({ path });
    const snapshots = 20_001; // two full halvings of the kept points, and a last point off the stride
    for (let s = 1; s <= snapshots; s++) {
      sink.metrics!({
        startTime: START,
        time: START + s * 1000,
        final: s === snapshots,
        series: [
          { kind: "counter", name: "ops", labels: {}, unit: "", description: "", value: 3 * s },
          { kind: "gauge", name: "level", labels: {}, unit: "", description: "", value: s },
        ],
      });
    }
    sink.close!({ ...SUMMARY, endTime: START + snapshots * 1000 });
    const html = readFileSync(path, "utf8");
    for (const name of ["ops", "level"]) {
      const points = Number(only(html, "data-metric", name)["data-points"]);
      assert(points > 250 && points <= 500, `${name}: ${points} points`);
    }
    assertEquals(only(html, "data-metric", "level")["data-value"], String(snapshots));
    // The rate between kept points stays exact: 3 a second everywhere.
    assertAlmostEquals(Number(only(html, "data-metric", "ops")["data-rate-peak"]), 3, 1e-9);
  });

  test("kept points are evenly spread over the points seen", () => {
    const timeline = new Timeline(10);
    for (let i = 0; i < 100; i++) timeline.push(i, i);
    const { times } = timeline.points();
    assert(times.length <= 10);
    const gaps = new Set(times.slice(0, -1).map((t, i) => (times[i + 1] ?? t) - t).slice(0, -1));
    assertEquals(gaps.size, 1, `gaps ${[...gaps]}`);
    assertEquals(times[0], 0);
    assertEquals(times[times.length - 1], 99);
  });

  test("close() without a run summary still writes the page, from what the sink saw", () => {
    const path = join(tempDir(), "nosummary.html");
    const sink = reportSink({ path });
    feed(sink);
    (sink.close as () => void)();
    const html = readFileSync(path, "utf8");
    assertEquals(only(html, "data-producer", "main")["data-events"], "7");
    assertEquals(only(html, "data-producer", "worker-1")["data-events"], "5");
    assertEquals(only(html, "data-metric", "rows")["data-value"], "5000");
  });

  test("an empty run writes a page that says nothing was recorded", () => {
    const path = join(tempDir(), "empty.html");
    reportSink({ path }).close!({
      startTime: START,
      endTime: START + 5,
      deadline: Infinity,
      producers: [],
      sinks: [],
    });
    const html = readFileSync(path, "utf8");
    assertMatch(html, /No metrics were recorded/);
    assertEquals(elements(html, "data-metric").length, 0);
  });

  test("a histogram without values has bars and no quantile marks", () => {
    const path = join(tempDir(), "zero.html");
    const sink = reportSink({ path });
    const empty: HistogramSeries = {
      ...LATENCY,
      count: 0,
      sum: 0,
      min: NaN,
      max: NaN,
      counts: [0, 0, 0, 0],
      p50: NaN,
      p90: NaN,
      p99: NaN,
    };
    sink.metrics!({ startTime: START, time: START + 1000, final: true, series: [empty] });
    sink.close!(SUMMARY);
    const html = readFileSync(path, "utf8");
    assertEquals(elements(html, "data-bucket").length, 4);
    assertEquals(elements(html, "data-quantile").length, 0);
  });

  test("numbers on axes and in stats read with their units", () => {
    assertEquals(formatQuantity(1536, "By"), "1.5 KiB");
    assertEquals(formatQuantity(250, "ms"), "250 ms");
    assertEquals(formatQuantity(1500, "ms"), "1.5 s");
    assertEquals(formatQuantity(12_500, ""), "12.5k");
    assertEquals(formatQuantity(45, "%"), "45%");
    assertEquals(formatQuantity(3, "rows"), "3 rows");
    assertEquals(formatDuration(125_000), "2 min 05 s");
    assertEquals(formatOffset(90_000), "1m30s");
    assertEquals(formatOffset(3_900_000), "1h05m");
    assertEquals(niceTicks(0, 97, 4), [0, 25, 50, 75, 100]);
    assertEquals(niceTicks(0.1, 0.3, 2), [0.1, 0.2, 0.3]);
  });
});

describe("report sink through startTelemetry()", () => {
  test('kind "report" writes the page at stop, with the events of each producer', async () => {
    const path = join(tempDir(), "run.html");
    const telemetry = await startTelemetry({ sinks: [{ kind: "report", path, title: "Wired" }] });
    for (let i = 0; i < 25; i++) telemetry.event(i);
    await telemetry.stop();
    assert(existsSync(path));
    const html = readFileSync(path, "utf8");
    assertMatch(html, /<h1>Wired<\/h1>/);
    assertEquals(only(html, "data-producer", "main")["data-events"], "25");
  });

  test("invalid report options are rejected with a TypeError naming the option", async () => {
    const cases: Array<[unknown, string]> = [
      [{ kind: "report" }, "Invalid option sinks[0].path: expected a file path, got undefined"],
      [
        { kind: "report", path: "r.html", title: 3 },
        "Invalid option sinks[0].title: expected a string, got 3",
      ],
      [
        { kind: "report", path: "r.html", slowestSpans: -1 },
        "Invalid option sinks[0].slowestSpans: expected an integer from 0 to 1000, got -1",
      ],
    ];
    for (const [sink, message] of cases) {
      let error: unknown;
      try {
        await startTelemetry({ sinks: [sink as never] });
      } catch (e) {
        error = e;
      }
      assert(error instanceof TypeError, `${JSON.stringify(sink)} rejects with a TypeError`);
      assertEquals(error.message, message);
    }
  });
});
