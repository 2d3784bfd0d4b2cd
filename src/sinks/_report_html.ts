// The report page: one self-contained HTML file with inline CSS and SVG, no script and nothing fetched.
// Elements carry data-* attributes with the raw numbers, so tests and tools can read them back.
import { histogramChart, lineChart, QUANTILE_COLORS } from "./_report_chart.ts";
import {
  escapeHtml,
  formatCount,
  formatDuration,
  formatNumber,
  formatOffset,
  formatQuantity,
  formatTime,
} from "./_report_format.ts";
import type { Timeline } from "./_timeline.ts";
import type { HistogramSeries, Labels, LogLevel, MetricSeries, ProducerSummary, RunSummary } from "./sink.ts";

/** One metric series as the report keeps it: its latest state, and its values over time. */
export interface SeriesTrack {
  latest: MetricSeries;
  /** Counter totals or gauge values per snapshot; unused for histograms. */
  readonly timeline: Timeline;
  min: number;
  max: number;
}

/** One progress label: its latest state, and `done` (with `total`) over time. */
export interface ProgressTrack {
  readonly label: string;
  done: number;
  total?: number;
  readonly timeline: Timeline;
}

/** A span kept among the slowest. */
export interface SlowSpan {
  readonly name: string;
  readonly startTime: number;
  readonly durationMs: number;
  readonly producer: string;
  readonly status: "unset" | "error";
  readonly statusMessage?: string;
}

/** An error or fatal log line kept among the last. */
export interface ErrorLog {
  readonly time: number;
  readonly level: LogLevel;
  readonly producer: string;
  readonly message: string;
}

/** Everything the page shows. */
export interface ReportData {
  readonly title: string;
  readonly startTime: number;
  readonly endTime: number;
  /** The latest time seen in any input; charts reach to it when it is after `endTime`. */
  readonly lastTime: number;
  readonly producers: readonly ProducerSummary[];
  readonly sinks: RunSummary["sinks"];
  /** False when `close()` came without a run summary. */
  readonly hasSummary: boolean;
  /** Events seen by `handle()`, per producer. */
  readonly events: ReadonlyArray<{ readonly name: string; readonly count: number }>;
  readonly series: readonly SeriesTrack[];
  readonly omittedSeries: number;
  readonly snapshots: number;
  readonly progress: readonly ProgressTrack[];
  readonly omittedLabels: number;
  readonly spans: readonly SlowSpan[];
  readonly logCounts: ReadonlyArray<{ readonly level: LogLevel; readonly count: number }>;
  readonly lastErrors: readonly ErrorLog[];
}

const COLORS = { counter: "#2563eb", gauge: "#0d9488", histogram: "#7c3aed", progress: "#16a34a" } as const;

const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f1f5f9;color:#0f172a;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 32px}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:6px 18px;margin-bottom:14px}
h1{font-size:22px;margin:0}
h2{font-size:16px;margin:22px 0 10px;color:#334155}
h3{font-size:14px;margin:0;font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.sub{color:#475569}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
.cards{display:grid;grid-template-columns:minmax(0,1.15fr) minmax(0,1.6fr) minmax(0,1.25fr);gap:14px;align-items:start}
.stack{display:grid;gap:14px;min-width:0}
@media (max-width:900px){.cards{grid-template-columns:minmax(0,1fr)}}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px 14px;min-width:0}
.card h2{margin:0 0 8px;font-size:14px;color:#0f172a}
.head{display:flex;align-items:baseline;gap:8px;flex-wrap:wrap}
.kind{font-size:11px;text-transform:uppercase;letter-spacing:.04em;border-radius:4px;padding:1px 6px;color:#fff}
.kind.counter{background:${COLORS.counter}}.kind.gauge{background:${COLORS.gauge}}.kind.histogram{background:${COLORS.histogram}}
.chip{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f5f9;border:1px solid #e2e8f0;border-radius:4px;padding:0 5px;overflow-wrap:anywhere}
.desc{color:#64748b;margin:2px 0 0;font-size:13px}
.stats{display:flex;flex-wrap:wrap;gap:2px 16px;margin:4px 0 0;font-size:13px}
.stats div{display:flex;gap:5px}
.stats dt{color:#64748b}.stats dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
dl.run{display:grid;grid-template-columns:auto 1fr;gap:3px 14px;margin:0}
dl.run dt{color:#64748b}dl.run dd{margin:0;font-variant-numeric:tabular-nums;white-space:nowrap}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#64748b;font-weight:500;border-bottom:1px solid #e2e8f0;padding:3px 8px 3px 0}
td{border-bottom:1px solid #f1f5f9;padding:3px 8px 3px 0;vertical-align:top;overflow-wrap:anywhere}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bad{color:#dc2626;font-weight:600}
.levels{display:flex;flex-wrap:wrap;gap:6px;margin-bottom:8px}
.level{border:1px solid #e2e8f0;border-radius:4px;padding:1px 7px;font-size:12px}
.level strong{font-variant-numeric:tabular-nums}
.level.error,.level.fatal{border-color:#fecaca;background:#fef2f2}.level.warn{border-color:#fde68a;background:#fffbeb}
ul.errors{list-style:none;margin:0;padding:0;font-size:12px}
ul.errors li{border-top:1px solid #f1f5f9;padding:3px 0;overflow-wrap:anywhere}
.muted{color:#64748b}
.swatch{display:inline-block;width:10px;height:3px;vertical-align:middle;margin-right:4px}
.progress{display:grid;grid-template-columns:220px 1fr;gap:4px 16px;align-items:center}
.progress+.progress{border-top:1px solid #f1f5f9;margin-top:6px;padding-top:6px}
.meter{height:8px;background:#e2e8f0;border-radius:4px;overflow:hidden;margin:4px 0}
.meter span{display:block;height:100%;background:${COLORS.progress}}
.lane{position:relative;height:12px;background:#f1f5f9;border-radius:3px;min-width:160px}
.lane span{position:absolute;top:2px;bottom:2px;min-width:2px;background:#f97316;border-radius:2px}
.lane span.error{background:#dc2626}
footer{margin-top:24px;color:#94a3b8;font-size:12px}
`;

/** Renders the whole report page. */
export function renderReport(data: ReportData): string {
  const duration = Math.max(0, data.endTime - data.startTime);
  const span = Math.max(duration, data.lastTime - data.startTime, 1);
  return [
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(data.title)}</title><style>${STYLE}</style></head><body><main>`,
    `<header><h1>${escapeHtml(data.title)}</h1><span class="sub">${formatTime(data.startTime)} · `,
    `${formatDuration(duration)}</span></header>`,
    summarySection(data, duration),
    metricsSection(data, span, duration),
    progressSection(data, span),
    spansSection(data, span),
    `<footer>Written by the report sink of @sidecar/telemetry at the run's stop. Charts keep at most 500 points `,
    `per line, evenly spread over the run.</footer>`,
    `</main></body></html>\n`,
  ].join("");
}

function summarySection(data: ReportData, duration: number): string {
  const rows = producerRows(data);
  const total = (key: "sent" | "handled" | "dropped") => rows.reduce((sum, r) => sum + (r[key] ?? 0), 0);
  const events = data.events.reduce((sum, e) => sum + e.count, 0);
  const dropped = total("dropped");
  const run = `<div class="card"><h2>Run</h2><dl class="run" data-start="${data.startTime}" ` +
    `data-end="${data.endTime}" data-duration-ms="${duration}" data-events="${events}">` +
    item("Start", formatTime(data.startTime)) +
    item("End", formatTime(data.endTime)) +
    item("Duration", formatDuration(duration)) +
    item("Events", formatCount(events)) +
    (data.hasSummary
      ? item("Sent", formatCount(total("sent"))) + item("Handled", formatCount(total("handled"))) +
        item("Dropped", `<span${dropped > 0 ? ' class="bad"' : ""}>${formatCount(dropped)}</span>`)
      : "") +
    item("Snapshots", formatCount(data.snapshots)) +
    `</dl>${
      data.hasSummary
        ? ""
        : `<p class="muted">The run ended without a summary; counts are what this sink saw.</p>`
    }</div>`;

  const producers = `<div class="card"><h2>Producers</h2><table><thead><tr><th>Producer</th>` +
    `<th class="n">Events</th><th class="n">Sent</th><th class="n">Handled</th><th class="n">Dropped</th>` +
    `</tr></thead><tbody>` +
    rows.map((r) =>
      `<tr data-producer="${escapeHtml(r.name)}" data-events="${r.events}"` +
      (r.sent === undefined
        ? ""
        : ` data-sent="${r.sent}" data-handled="${r.handled}" data-dropped="${r.dropped}"`) +
      `><td>${escapeHtml(r.name)}</td><td class="n">${formatCount(r.events)}</td>` +
      `<td class="n">${cell(r.sent)}</td><td class="n">${cell(r.handled)}</td>` +
      `<td class="n${(r.dropped ?? 0) > 0 ? " bad" : ""}">${cell(r.dropped)}</td></tr>`
    ).join("") +
    (rows.length === 0 ? `<tr><td colspan="5" class="muted">No producer sent anything</td></tr>` : "") +
    `</tbody></table></div>`;

  const sinks = `<div class="card"><h2>Sinks</h2><table><thead><tr><th>Sink</th><th class="n">Errors</th>` +
    `<th>First error</th></tr></thead><tbody>` +
    data.sinks.map((s) =>
      `<tr data-sink="${escapeHtml(s.name)}" data-errors="${s.errors}"><td>${escapeHtml(s.name)}</td>` +
      `<td class="n${s.errors > 0 ? " bad" : ""}">${formatCount(s.errors)}</td>` +
      `<td>${s.firstError === undefined ? "" : escapeHtml(s.firstError)}</td></tr>`
    ).join("") +
    (data.sinks.length === 0 ? `<tr><td colspan="3" class="muted">No sinks reported</td></tr>` : "") +
    `</tbody></table></div>`;

  const logs = `<div class="card"><h2>Logs</h2><div class="levels">` +
    data.logCounts.map((l) =>
      `<span class="level ${l.level}" data-level="${l.level}" data-count="${l.count}">${l.level} ` +
      `<strong>${formatCount(l.count)}</strong></span>`
    ).join("") + `</div>` +
    (data.lastErrors.length === 0 ? `<p class="muted">No errors logged</p>` : `<ul class="errors">` +
      data.lastErrors.map((e) =>
        `<li data-log="${e.level}"><span class="muted">${formatOffset(e.time - data.startTime)} ` +
        `${escapeHtml(e.producer)}</span> <span class="bad">${e.level}</span> ${escapeHtml(e.message)}</li>`
      ).join("") + `</ul>`) +
    `</div>`;

  return `<section id="summary" class="cards">${run}<div class="stack">${producers}${sinks}</div>${logs}</section>`;
}

interface ProducerRow {
  readonly name: string;
  readonly events: number;
  readonly sent?: number;
  readonly handled?: number;
  readonly dropped?: number;
}

// The run summary's producers, with the events this sink saw from each; producers only one side knows too.
function producerRows(data: ReportData): ProducerRow[] {
  const events = new Map<string, number>();
  for (const e of data.events) events.set(e.name, (events.get(e.name) ?? 0) + e.count);
  const rows: ProducerRow[] = data.producers.map((p) => ({
    name: p.name,
    events: events.get(p.name) ?? 0,
    sent: p.sent,
    handled: p.handled,
    dropped: p.dropped,
  }));
  for (const [name, count] of events) {
    if (!data.producers.some((p) => p.name === name)) rows.push({ name, events: count });
  }
  return rows;
}

function metricsSection(data: ReportData, span: number, duration: number): string {
  const cards = data.series.map((track) => metricCard(track, data.startTime, span, duration));
  const omitted = data.omittedSeries > 0
    ? `<p class="muted">${
      formatCount(data.omittedSeries)
    } more series were not charted (at most 200 are).</p>`
    : "";
  return `<section id="metrics"><h2>Metrics</h2>${
    cards.length === 0
      ? `<p class="muted">No metrics were recorded.</p>`
      : `<div class="grid">${cards.join("")}</div>`
  }${omitted}</section>`;
}

function metricCard(track: SeriesTrack, startTime: number, span: number, duration: number): string {
  const s = track.latest;
  const id = seriesId(s.name, s.labels);
  const labels = Object.entries(s.labels).map(([k, v]) =>
    `<span class="chip">${escapeHtml(k)}=${escapeHtml(v)}</span>`
  );
  const head =
    `<div class="head"><h3>${escapeHtml(s.name)}</h3><span class="kind ${s.kind}">${s.kind}</span>` +
    `${labels.join("")}</div>` +
    (s.description === "" ? "" : `<p class="desc">${escapeHtml(s.description)}</p>`);
  const attrs = `class="card metric" data-metric="${escapeHtml(id)}" data-kind="${s.kind}" data-unit="${
    escapeHtml(s.unit)
  }"`;
  if (s.kind === "histogram") {
    return `<article ${attrs}${histogramAttrs(s)}>${head}${histogramBody(s)}</article>`;
  }

  const { times, values } = track.timeline.points();
  const xs = times.map((t) => t - startTime);
  if (s.kind === "counter") {
    // The rate over each interval between kept snapshots; the total was 0 at the run's start.
    const rates: number[] = [];
    for (let i = 0; i < times.length; i++) {
      const t0 = i === 0 ? startTime : times[i - 1]!;
      const v0 = i === 0 ? 0 : values[i - 1]!;
      const dt = (times[i]! - t0) / 1000;
      rates.push(dt > 0 ? (values[i]! - v0) / dt : NaN);
    }
    const peak = Math.max(...rates.filter(Number.isFinite), 0);
    const unit = s.unit;
    const chart = lineChart({
      xs,
      ys: rates,
      xMax: span,
      format: (v) => rate(v, unit),
      unit,
      color: COLORS.counter,
      label: `${s.name}: rate per second over the run`,
      fromZero: true,
    });
    const mean = duration > 0 ? s.value / (duration / 1000) : NaN;
    return `<article ${attrs} data-value="${s.value}" data-rate-mean="${mean}" data-rate-peak="${peak}" ` +
      `data-points="${xs.length}">${head}${chart}<dl class="stats">` +
      stat("total", unit === "" ? formatCount(s.value) : formatQuantity(s.value, unit)) +
      stat("mean rate", rate(mean, unit)) +
      stat("peak rate", rate(peak, unit)) + `</dl></article>`;
  }
  const unit = s.unit;
  const chart = lineChart({
    xs,
    ys: values,
    xMax: span,
    format: (v) => formatQuantity(v, unit),
    unit,
    color: COLORS.gauge,
    label: `${s.name}: value over the run`,
    fromZero: track.min >= 0 && track.min < track.max / 2,
  });
  return `<article ${attrs} data-value="${s.value}" data-min="${track.min}" data-max="${track.max}" ` +
    `data-points="${xs.length}">${head}${chart}<dl class="stats">` +
    stat("last", formatQuantity(s.value, unit)) + stat("min", formatQuantity(track.min, unit)) +
    stat("max", formatQuantity(track.max, unit)) + `</dl></article>`;
}

function histogramAttrs(s: HistogramSeries): string {
  return ` data-count="${s.count}" data-sum="${s.sum}" data-min="${s.min}" data-max="${s.max}" ` +
    `data-p50="${s.p50}" data-p90="${s.p90}" data-p99="${s.p99}"`;
}

function histogramBody(s: HistogramSeries): string {
  const format = (v: number) => formatQuantity(v, s.unit);
  const mean = s.count > 0 ? s.sum / s.count : NaN;
  const quantile = (name: keyof typeof QUANTILE_COLORS, value: number) =>
    `<div><dt><span class="swatch" style="background:${QUANTILE_COLORS[name]}"></span>${name}</dt>` +
    `<dd>${escapeHtml(format(value))}</dd></div>`;
  return histogramChart(s, format, COLORS.histogram) + `<dl class="stats">` +
    quantile("p50", s.p50) + quantile("p90", s.p90) + quantile("p99", s.p99) + `</dl><dl class="stats">` +
    stat("count", formatCount(s.count)) + stat("sum", format(s.sum)) + stat("mean", format(mean)) +
    stat("min", format(s.min)) + stat("max", format(s.max)) + `</dl>`;
}

function progressSection(data: ReportData, span: number): string {
  if (data.progress.length === 0) return "";
  const rows = data.progress.map((p) => {
    const { times, values, extras } = p.timeline.points();
    const known = p.total !== undefined && p.total > 0;
    const percent = known ? (100 * p.done) / p.total! : NaN;
    const ys = known ? values.map((v, i) => (extras[i]! > 0 ? (100 * v) / extras[i]! : NaN)) : values;
    const chart = lineChart({
      xs: times.map((t) => t - data.startTime),
      ys,
      xMax: span,
      format: known ? (v) => `${formatNumber(v)}%` : formatNumber,
      unit: known ? "%" : "",
      color: COLORS.progress,
      label: `${p.label}: progress over the run`,
      fromZero: true,
      ...(known ? { yRange: [0, 100] as const } : {}),
      width: 900,
      height: 96,
    });
    const last = times[times.length - 1];
    const status = known
      ? `${formatCount(p.done)} / ${formatCount(p.total!)} <strong>${formatNumber(round1(percent))}%</strong>`
      : `${formatCount(p.done)} done`;
    return `<div class="progress" data-label="${escapeHtml(p.label)}" data-done="${p.done}"` +
      (known ? ` data-total="${p.total}" data-percent="${percent}"` : "") +
      ` data-points="${times.length}">` +
      `<div><h3>${escapeHtml(p.label)}</h3>` +
      (known
        ? `<div class="meter"><span style="width:${
          Math.min(100, Math.max(0, percent)).toFixed(1)
        }%"></span></div>`
        : "") +
      `<div>${status}</div>` +
      (last === undefined
        ? ""
        : `<div class="muted">last update at ${formatOffset(last - data.startTime)}</div>`) +
      `</div>${chart}</div>`;
  });
  const omitted = data.omittedLabels > 0
    ? `<p class="muted">${formatCount(data.omittedLabels)} updates of further labels were not charted.</p>`
    : "";
  return `<section id="progress"><h2>Progress</h2><div class="card">${
    rows.join("")
  }</div>${omitted}</section>`;
}

function spansSection(data: ReportData, span: number): string {
  if (data.spans.length === 0) return "";
  const rows = data.spans.map((s) => {
    const start = s.startTime - data.startTime;
    const left = Math.min(100, Math.max(0, (100 * start) / span));
    const width = Math.min(100 - left, (100 * s.durationMs) / span);
    const error = s.status === "error";
    return `<tr data-span="${
      escapeHtml(s.name)
    }" data-duration-ms="${s.durationMs}" data-start-ms="${start}" ` +
      `data-producer="${escapeHtml(s.producer)}" data-status="${s.status}"><td>${escapeHtml(s.name)}` +
      (error ? ` <span class="bad" title="${escapeHtml(s.statusMessage ?? "")}">error</span>` : "") +
      `</td>` +
      `<td class="n">${formatDuration(s.durationMs)}</td><td class="n">+${formatOffset(start)}</td>` +
      `<td>${escapeHtml(s.producer)}</td><td style="width:34%"><div class="lane">` +
      `<span${error ? ' class="error"' : ""} style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%">` +
      `</span></div></td></tr>`;
  });
  return `<section id="spans"><h2>Slowest spans</h2><div class="card"><table><thead><tr><th>Span</th>` +
    `<th class="n">Duration</th><th class="n">Start</th><th>Producer</th><th>When, over the run</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></div></section>`;
}

/** A series' name with its labels, `name{key="value",...}`, as in the `data-metric` attribute. */
export function seriesId(name: string, labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return name;
  return `${name}{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
}

function rate(value: number, unit: string): string {
  return `${formatQuantity(value, unit)}/s`;
}

function item(term: string, value: string): string {
  return `<dt>${term}</dt><dd>${value}</dd>`;
}

function stat(term: string, value: string): string {
  return `<div><dt>${term}</dt><dd>${escapeHtml(value)}</dd></div>`;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function cell(value: number | undefined): string {
  return value === undefined ? "–" : formatCount(value);
}
