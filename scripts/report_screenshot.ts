// Makes docs/report.png: the HTML report of a synthetic 12-minute run (four workers fitting a model on flight
// data), rendered by headless Chromium. The data is made up but shaped like a real run, and the same on every
// call. Usage: deno run -A scripts/report_screenshot.ts [--out docs/report.png] [--html report.html]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { reportSink } from "../src/sinks/report.ts";
import type {
  HistogramSeries,
  MetricSeries,
  ProducerMeta,
  RunSummary,
  Sink,
  TelemetryRecord,
} from "../src/sinks/sink.ts";
import { render } from "./_chromium.ts";
import { ROOT } from "./_tools.ts";

const START = Date.UTC(2025, 4, 12, 9, 30, 0);
const DURATION = 12 * 60_000;
const INTERVAL = 2_000;
const WIDTH = 1280;
const HEIGHT = 2870;

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

// A small deterministic generator, so the picture is the same on every run.
let seed = 20250512;
function random(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
}
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const MAIN: ProducerMeta = { id: 0, name: "main" };
const WORKERS: ProducerMeta[] = [1, 2, 3, 4].map((id) => ({ id, name: `worker-${id - 1}` }));

/** A histogram that records values and reports them as a snapshot series would. */
class Histogram {
  readonly values: number[] = [];
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly bounds: number[];
  constructor(name: string, unit: string, description: string, bounds: number[]) {
    this.name = name;
    this.unit = unit;
    this.description = description;
    this.bounds = bounds;
  }
  record(value: number): void {
    this.values.push(value);
  }
  series(): HistogramSeries {
    const sorted = this.values.slice().sort((a, b) => a - b);
    const counts = new Array<number>(this.bounds.length + 1).fill(0);
    for (const v of sorted) {
      const i = this.bounds.findIndex((b) => v <= b);
      counts[i < 0 ? this.bounds.length : i]!++;
    }
    const q = (p: number) =>
      sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    return {
      kind: "histogram",
      name: this.name,
      labels: {},
      unit: this.unit,
      description: this.description,
      count: sorted.length,
      sum: sorted.reduce((a, b) => a + b, 0),
      min: sorted[0] ?? NaN,
      max: sorted[sorted.length - 1] ?? NaN,
      bounds: this.bounds,
      counts,
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
    };
  }
}

function run(sink: Sink): RunSummary {
  const batchTime = new Histogram(
    "batch.duration",
    "ms",
    "Time to fit one batch of 512 rows",
    [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000],
  );
  const rowSize = new Histogram("row.size", "By", "Size of a decoded flight row", [
    64,
    128,
    256,
    512,
    1024,
    2048,
    4096,
  ]);
  let rows = 0;
  let bytes = 0;
  let retries = 0;
  const rowsPerWorker = [0, 0, 0, 0];
  let loss = 2.4;
  let heap = 180e6;
  let events = 0;
  const totalRows = 2_000_000;
  const epochs = 40;
  for (let t = INTERVAL; t <= DURATION; t += INTERVAL) {
    const now = START + t;
    const phase = t / DURATION;
    const records: TelemetryRecord[] = [];
    // Loading in the first fifth, fitting after, exporting at the end.
    if (phase < 0.22) {
      const step = Math.round(totalRows / (0.22 * DURATION / INTERVAL) * (0.8 + 0.4 * random()));
      rows = Math.min(totalRows, rows + step);
      bytes += step * (300 + 60 * random());
      for (let k = 0; k < 40; k++) rowSize.record(Math.max(40, 420 + 180 * gaussian()));
      records.push({
        type: "progress",
        producer: MAIN,
        time: now,
        label: "load flights",
        done: rows,
        total: totalRows,
      });
    } else {
      rows = totalRows;
      records.push({
        type: "progress",
        producer: MAIN,
        time: now,
        label: "load flights",
        done: rows,
        total: totalRows,
      });
    }
    if (phase >= 0.2 && phase < 0.92) {
      const epoch = Math.min(epochs, Math.floor((phase - 0.2) / 0.72 * epochs));
      records.push({
        type: "progress",
        producer: MAIN,
        time: now,
        label: "fit epochs",
        done: epoch,
        total: epochs,
      });
      loss = 0.35 + (loss - 0.35) * 0.985 + 0.01 * gaussian();
      heap = random() < 0.04 ? Math.max(220e6, heap * 0.55) : Math.min(1.6e9, heap + 4e6 * (1 + random()));
      for (let w = 0; w < 4; w++) {
        const n = 20 + Math.floor(random() * 10);
        rowsPerWorker[w]! += n * 512;
        for (let k = 0; k < n; k++) {
          batchTime.record(Math.max(2, 38 * Math.exp(0.45 * gaussian()) + (random() < 0.01 ? 900 : 0)));
        }
        events += n;
      }
      if (random() < 0.04) retries++;
    }
    if (phase >= 0.9) {
      const files = Math.floor((phase - 0.9) / 0.1 * 37);
      records.push({ type: "progress", producer: MAIN, time: now, label: "export shards", done: files });
    }
    sink.records!(records);
    const series: MetricSeries[] = [
      {
        kind: "counter",
        name: "rows.loaded",
        labels: {},
        unit: "",
        description: "Flight rows decoded",
        value: rows,
      },
      {
        kind: "counter",
        name: "bytes.read",
        labels: {},
        unit: "By",
        description: "Bytes read from the CSV files",
        value: bytes,
      },
      ...rowsPerWorker.slice(0, 2).map((value, w): MetricSeries => ({
        kind: "counter",
        name: "rows.fitted",
        labels: { worker: `worker-${w}` },
        unit: "",
        description: "Rows through one fit step",
        value,
      })),
      {
        kind: "counter",
        name: "fit.retries",
        labels: {},
        unit: "",
        description: "Batches fitted again after a NaN",
        value: retries,
      },
      {
        kind: "gauge",
        name: "model.loss",
        labels: { split: "validation" },
        unit: "",
        description: "Mean log loss on held-out flights",
        value: loss,
      },
      {
        kind: "gauge",
        name: "process.heap",
        labels: {},
        unit: "By",
        description: "Heap in use",
        value: heap,
      },
      batchTime.series(),
      rowSize.series(),
    ];
    sink.metrics!({ startTime: START, time: now, final: t === DURATION, series });
  }
  // Spans: a few hundred batch fits, shard writes and one slow load, of which the report keeps the slowest.
  const spans: TelemetryRecord[] = [];
  for (let k = 0; k < 400; k++) {
    const producer = WORKERS[k % 4]!;
    const start = START + 0.2 * DURATION + random() * 0.7 * DURATION;
    const ms = Math.max(3, 38 * Math.exp(0.6 * gaussian()) + (random() < 0.03 ? 1500 + 2000 * random() : 0));
    spans.push(
      span("fit batch", producer, start, ms, k % 97 === 0 ? "Loss became NaN; batch retried" : undefined),
    );
  }
  spans.push(span("load flights", MAIN, START + 500, 0.22 * DURATION - 800));
  for (let k = 0; k < 6; k++) {
    spans.push(span("write shard", MAIN, START + 0.9 * DURATION + k * 11_000, 4000 + 5000 * random()));
  }
  sink.records!(spans);
  const logs: TelemetryRecord[] = [];
  const levels = ["debug", "info", "info", "info", "warn"] as const;
  for (let k = 0; k < 300; k++) {
    logs.push({
      type: "log",
      producer: WORKERS[k % 4]!,
      time: START + k * 2000,
      level: levels[k % 5]!,
      message: "step",
      fields: {},
    });
  }
  logs.push({
    type: "log",
    producer: WORKERS[2]!,
    time: START + 401_250,
    level: "error",
    message: "Batch 1893 of worker-2: loss became NaN; refitting with half the learning rate",
    fields: {},
  });
  logs.push({
    type: "log",
    producer: MAIN,
    time: START + 671_900,
    level: "error",
    message: "Shard 31 write failed once (EAGAIN); written on retry",
    fields: {},
  });
  sink.records!(logs);
  sink.handle!({
    producer: MAIN,
    length: 1200,
    values: [],
    times: new Float64Array([START + 1000, START + DURATION]),
  });
  for (const w of WORKERS) {
    const length = Math.round(events / 4);
    sink.handle!({
      producer: w,
      length,
      values: [],
      times: new Float64Array([START + 0.2 * DURATION, START + 0.9 * DURATION]),
    });
  }
  const perWorker = Math.round(events / 4) + Math.round(batchTime.values.length / 4) + 100;
  return {
    startTime: START,
    endTime: START + DURATION,
    deadline: Infinity,
    producers: [
      { name: "main", sent: 1200 + 740 + 400, handled: 1200 + 740 + 400, dropped: 0 },
      ...WORKERS.map((w, i) => ({
        name: w.name,
        sent: perWorker + (i === 3 ? 312 : 0),
        handled: perWorker,
        dropped: i === 3 ? 312 : 0,
      })),
    ],
    sinks: [
      { name: "report", errors: 0 },
      { name: "ndjson", errors: 2, firstError: "ENOSPC: no space left on device, write" },
    ],
  };
}

function span(
  name: string,
  producer: ProducerMeta,
  start: number,
  ms: number,
  error?: string,
): TelemetryRecord {
  return {
    type: "span",
    producer,
    name,
    traceId: "0".repeat(32),
    spanId: "0".repeat(16),
    startTime: start,
    endTime: start + ms,
    attributes: {},
    status: error === undefined ? "unset" : "error",
    ...(error === undefined ? {} : { statusMessage: error }),
  };
}

const out = resolve(argument("--out", join(ROOT, "docs", "report.png")));
const keep = argument("--html", "");
const dir = mkdtempSync(join(tmpdir(), "report-"));
try {
  const html = keep === "" ? join(dir, "report.html") : resolve(keep);
  const sink = reportSink({ path: html, title: "Flight delays: model fit", slowestSpans: 10 });
  sink.close!(run(sink));
  const { png } = await render(html, { width: WIDTH, height: Number(argument("--height", String(HEIGHT))) });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, png);
  console.log(`Wrote ${out} (${png.length} bytes) from ${html}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
