import { openTextFile } from "../runtime/file.ts";
import { Largest } from "./_largest.ts";
import { escapeHtml } from "./_report_format.ts";
import {
  type ErrorLog,
  type ProgressTrack,
  renderReport,
  type ReportData,
  type SeriesTrack,
  type SlowSpan,
} from "./_report_html.ts";
import { Timeline } from "./_timeline.ts";
import type { EventBatch, LogLevel, MetricsSnapshot, RunSummary, Sink, TelemetryRecord } from "./sink.ts";

/** Options of `reportSink()`. */
export interface ReportSinkOptions {
  /** The HTML file to write at close; created at start with a note that the run has not ended yet. */
  readonly path: string;
  /** Heading and page title. Default `"Telemetry report"`. */
  readonly title?: string;
  /** How many of the slowest spans to list. Default 20. */
  readonly slowestSpans?: number;
}

/** Points kept per chart line, however long the run. */
export const MAX_POINTS = 500;
/** Metric series charted; the report says how many more there were. */
export const MAX_SERIES = 200;
/** Progress labels charted; the report says how many more there were. */
export const MAX_LABELS = 50;
/** Error-level log lines kept, the latest. */
export const LAST_ERRORS = 10;
/** Characters kept of a span name, log message or label, so one huge string cannot fill the sidecar. */
const MAX_TEXT = 500;

const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal"];

/**
 * Builds a sink that writes one self-contained HTML report of the run at close: the run summary, a chart per
 * metric series (a counter's rate, a gauge's value, a histogram's buckets with p50/p90/p99), a progress timeline
 * per label, the slowest spans, log counts and the last errors. While the run goes it keeps only bounded
 * summaries: at most 500 points per chart line, the N slowest spans and the last 10 error logs.
 *
 * @example Write a report from synthetic data
 * ```ts
 * import { reportSink } from "./report.ts";
 *
 * const path = Deno.makeTempFileSync({ suffix: ".html" });
 * const sink = reportSink({ path, title: "Nightly fit" });
 * sink.metrics!({
 *   startTime: 0,
 *   time: 1000,
 *   final: true,
 *   series: [{ kind: "counter", name: "rows", labels: {}, unit: "", description: "", value: 5000 }],
 * });
 * sink.close!({ startTime: 0, endTime: 1000, deadline: Infinity, producers: [], sinks: [] });
 * console.assert(Deno.readTextFileSync(path).includes('data-metric="rows"'));
 * ```
 *
 * @param options Where to write, the title, and how many spans to list.
 * @returns The sink; its `close()` writes the file.
 * @throws {Error} When the file cannot be created.
 */
export function reportSink(options: ReportSinkOptions): Sink {
  const { path } = options;
  const title = options.title ?? "Telemetry report";
  // Written now so a bad path fails at start, not after a long run, and a run that dies leaves a note.
  writeFile(path, pendingPage(title));

  const series = new Map<string, SeriesTrack>();
  const progress = new Map<string, ProgressTrack>();
  const spans = new Largest<SlowSpan>(options.slowestSpans ?? 20, (span) => span.durationMs);
  const logCounts: Record<LogLevel, number> = { trace: 0, debug: 0, info: 0, warn: 0, error: 0, fatal: 0 };
  const lastErrors: ErrorLog[] = [];
  const events = new Map<number, { name: string; count: number }>();
  let omittedSeries = 0;
  let omittedLabels = 0;
  let firstTime = Infinity;
  let lastTime = -Infinity;
  let startTime = NaN;
  let snapshots = 0;
  let closed = false;

  function seen(time: number): void {
    if (time < firstTime) firstTime = time;
    if (time > lastTime) lastTime = time;
  }

  function metrics(snapshot: MetricsSnapshot): void {
    startTime = snapshot.startTime;
    seen(snapshot.time);
    snapshots++;
    let untracked = 0;
    for (const s of snapshot.series) {
      const key = `${s.kind}\u0000${s.name}\u0000${JSON.stringify(s.labels)}`;
      let track = series.get(key);
      if (track === undefined) {
        if (series.size >= MAX_SERIES) {
          untracked++;
          continue;
        }
        track = { latest: s, timeline: new Timeline(MAX_POINTS), min: Infinity, max: -Infinity };
        series.set(key, track);
      }
      track.latest = s;
      if (s.kind !== "histogram") {
        track.timeline.push(snapshot.time, s.value);
        if (s.value < track.min) track.min = s.value;
        if (s.value > track.max) track.max = s.value;
      }
    }
    omittedSeries = untracked;
  }

  function record(r: TelemetryRecord): void {
    switch (r.type) {
      case "log": {
        seen(r.time);
        if (r.level in logCounts) logCounts[r.level]++;
        if (r.level === "error" || r.level === "fatal") {
          lastErrors.push({
            time: r.time,
            level: r.level,
            producer: r.producer.name,
            message: cut(String(r.message)),
          });
          if (lastErrors.length > LAST_ERRORS) lastErrors.shift();
        }
        break;
      }
      case "span":
        seen(r.startTime);
        seen(r.endTime);
        spans.offer({
          name: cut(String(r.name)),
          startTime: r.startTime,
          durationMs: r.endTime - r.startTime,
          producer: r.producer.name,
          status: r.status,
          ...(r.statusMessage === undefined ? {} : { statusMessage: cut(r.statusMessage) }),
        });
        break;
      case "progress": {
        seen(r.time);
        const label = cut(String(r.label));
        let track = progress.get(label);
        if (track === undefined) {
          if (progress.size >= MAX_LABELS) {
            omittedLabels++;
            break;
          }
          track = { label, timeline: new Timeline(MAX_POINTS), done: 0 };
          progress.set(label, track);
        }
        track.done = r.done;
        if (r.total === undefined) delete track.total;
        else track.total = r.total;
        track.timeline.push(r.time, r.done, r.total ?? NaN);
        break;
      }
    }
  }

  return {
    handle(batch: EventBatch): void {
      const entry = events.get(batch.producer.id);
      if (entry === undefined) {
        events.set(batch.producer.id, { name: batch.producer.name, count: batch.length });
      } else entry.count += batch.length;
      if (batch.length > 0) {
        seen(batch.times[0]!);
        seen(batch.times[batch.length - 1]!);
      }
    },
    records(records: readonly TelemetryRecord[]): void {
      for (const r of records) record(r);
    },
    metrics,
    close(summary?: RunSummary): void {
      if (closed) return;
      closed = true;
      const now = Date.now();
      const start = summary?.startTime ?? (Number.isFinite(startTime) ? startTime : Math.min(firstTime, now));
      const data: ReportData = {
        title,
        startTime: start,
        endTime: summary?.endTime ?? Math.max(lastTime, start),
        lastTime: Math.max(lastTime, summary?.endTime ?? -Infinity),
        producers: summary?.producers ?? [],
        sinks: summary?.sinks ?? [],
        hasSummary: summary !== undefined,
        events: Array.from(events.values()),
        series: Array.from(series.values()),
        omittedSeries,
        snapshots,
        progress: Array.from(progress.values()),
        omittedLabels,
        spans: spans.sorted(),
        logCounts: LEVELS.map((level) => ({ level, count: logCounts[level] })),
        lastErrors: lastErrors.slice(),
      };
      writeFile(path, renderReport(data));
    },
  };
}

function writeFile(path: string, text: string): void {
  const file = openTextFile(path);
  try {
    file.write(text);
  } finally {
    file.close();
  }
}

function cut(text: string): string {
  if (text.length <= MAX_TEXT) return text;
  // One unit shorter when the cut would split a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[MAX_TEXT - 1]!) ? MAX_TEXT - 1 : MAX_TEXT;
  return text.slice(0, end) + "…";
}

function pendingPage(title: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${
    escapeHtml(title)
  }</title></head>` +
    `<body><p>This report is written when the run stops. The run is still going, or it ended before ` +
    `telemetry was stopped.</p></body></html>\n`;
}
