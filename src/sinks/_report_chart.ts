// Inline SVG charts for the HTML report: a line chart over the run's time and a histogram's bar chart. Every
// string that reaches the markup goes through escapeHtml.
import { escapeHtml, formatNumber, formatOffset, niceTicks, timeTicks, unitTicks } from "./_report_format.ts";
import type { HistogramSeries } from "./sink.ts";

/** A line over the run's time. */
export interface LineChart {
  /** Milliseconds since the run's start. */
  readonly xs: readonly number[];
  readonly ys: readonly number[];
  /** The time axis' end: the run's duration. */
  readonly xMax: number;
  /** Formats a value for the y axis, with its unit. */
  readonly format: (value: number) => string;
  /** The values' unit, for round ticks (`"By"` ticks on binary multiples). */
  readonly unit: string;
  readonly color: string;
  /** What the chart shows, for screen readers. */
  readonly label: string;
  /** The y axis starts at 0 when every value is positive. */
  readonly fromZero?: boolean;
  /** Fixed y range, for percentages. */
  readonly yRange?: readonly [number, number];
  readonly width?: number;
  readonly height?: number;
}

const MARGIN = { left: 64, right: 16, top: 12, bottom: 26 };
const AXIS = `font-size="11" fill="#64748b"`;

/** An SVG line chart with a time axis, value ticks and a shaded area under the line. */
export function lineChart(chart: LineChart): string {
  const width = chart.width ?? 560;
  const height = chart.height ?? 190;
  const plot = {
    x: MARGIN.left,
    y: MARGIN.top,
    w: width - MARGIN.left - MARGIN.right,
    h: height - MARGIN.top - MARGIN.bottom,
  };
  const finite = chart.ys.filter(Number.isFinite);
  let low = finite.length === 0 ? 0 : Math.min(...finite);
  let high = finite.length === 0 ? 1 : Math.max(...finite);
  if (chart.fromZero && low > 0) low = 0;
  if (chart.fromZero && high < 0) high = 0;
  if (chart.yRange !== undefined) [low, high] = chart.yRange;
  const yTicks = unitTicks(low, high, height < 140 ? 2 : 4, chart.unit);
  const y0 = yTicks[0]!;
  const y1 = yTicks[yTicks.length - 1]!;
  const xMax = Math.max(chart.xMax, ...chart.xs, 1);
  const xTicks = timeTicks(xMax, Math.max(2, Math.round(plot.w / 90))).filter((t) => t <= xMax * 1.0001);
  const sx = (x: number) => plot.x + (x / xMax) * plot.w;
  const sy = (y: number) => plot.y + plot.h - ((y - y0) / (y1 - y0)) * plot.h;

  const parts: string[] = [];
  for (const t of yTicks) {
    const y = round(sy(t));
    parts.push(
      `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#e2e8f0"/>`,
      `<text x="${plot.x - 6}" y="${y + 4}" text-anchor="end" ${AXIS}>${escapeHtml(chart.format(t))}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = round(sx(t));
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 4}" stroke="#94a3b8"/>`,
      `<text x="${x}" y="${plot.y + plot.h + 17}" text-anchor="middle" ${AXIS}>${formatOffset(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${plot.y + plot.h}" y2="${
      plot.y + plot.h
    }" stroke="#94a3b8"/>`,
  );

  const points: string[] = [];
  for (let i = 0; i < chart.xs.length; i++) {
    const y = chart.ys[i]!;
    if (Number.isFinite(y)) points.push(`${round(sx(chart.xs[i]!))},${round(sy(y))}`);
  }
  if (points.length > 0) {
    const base = round(sy(Math.min(Math.max(0, y0), y1)));
    const first = points[0]!.split(",")[0];
    const last = points[points.length - 1]!.split(",")[0];
    parts.push(
      `<path d="M${first},${base}L${
        points.join("L")
      }L${last},${base}Z" fill="${chart.color}" fill-opacity="0.12"/>`,
      `<polyline data-points="${points.length}" points="${
        points.join(" ")
      }" fill="none" stroke="${chart.color}" ` +
        `stroke-width="1.75" stroke-linejoin="round"/>`,
    );
    if (points.length <= 40) {
      for (const p of points) {
        const [x, y] = p.split(",");
        parts.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${chart.color}"/>`);
      }
    }
  }
  return svg(width, height, chart.label, "line", parts);
}

/** Marker colours of p50, p90 and p99, also used by the legend under the chart. */
export const QUANTILE_COLORS = { p50: "#0f766e", p90: "#d97706", p99: "#dc2626" } as const;

/**
 * An SVG bar chart of a histogram's buckets, from the first to the last bucket holding values, with p50, p90 and
 * p99 marked where they fall inside their buckets.
 */
export function histogramChart(
  series: HistogramSeries,
  format: (value: number) => string,
  color: string,
): string {
  const width = 560;
  const height = 200;
  const plot = {
    x: MARGIN.left,
    y: MARGIN.top + 8,
    w: width - MARGIN.left - MARGIN.right,
    h: height - MARGIN.top - 8 - MARGIN.bottom,
  };
  const counts = series.counts;
  let first = counts.findIndex((c) => c > 0);
  let last = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
  if (first < 0) {
    first = 0;
    last = counts.length - 1;
  }
  const shown = last - first + 1;
  const slot = plot.w / shown;
  const gap = Math.min(4, slot * 0.15);
  const maxCount = Math.max(1, ...counts);
  const yTicks = niceTicks(0, maxCount, 4);
  const y1 = yTicks[yTicks.length - 1]!;
  const sy = (y: number) => plot.y + plot.h - (y / y1) * plot.h;
  const label = `${series.name}: ${formatNumber(series.count)} values in ${shown} buckets`;

  const parts: string[] = [];
  for (const t of yTicks) {
    const y = round(sy(t));
    parts.push(
      `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#e2e8f0"/>`,
      `<text x="${plot.x - 6}" y="${y + 4}" text-anchor="end" ${AXIS}>${formatNumber(t)}</text>`,
    );
  }
  for (let i = first; i <= last; i++) {
    const count = counts[i] ?? 0;
    const x = plot.x + (i - first) * slot + gap / 2;
    const y = sy(count);
    const le = i < series.bounds.length ? String(series.bounds[i]) : "+Inf";
    const range = `${
      i === 0
        ? "≤ " + format(series.bounds[0] ?? Infinity)
        : i < series.bounds.length
        ? format(series.bounds[i - 1]!) + " – " + format(series.bounds[i]!)
        : "> " + format(series.bounds[i - 1] ?? -Infinity)
    }`;
    parts.push(
      `<rect class="bar" data-bucket="${i}" data-le="${le}" data-count="${count}" x="${round(x)}" ` +
        `y="${round(y)}" width="${round(slot - gap)}" height="${
          round(plot.y + plot.h - y)
        }" fill="${color}">` +
        `<title>${escapeHtml(range)}: ${count}</title></rect>`,
    );
  }
  // Bucket edges, labelled with their bounds; thinned so labels do not overlap.
  const edges: Array<{ x: number; text: string }> = [];
  for (let i = first; i <= last + 1; i++) {
    const bound = i === 0 ? undefined : series.bounds[i - 1];
    edges.push({ x: plot.x + (i - first) * slot, text: bound === undefined ? "" : format(bound) });
  }
  const longest = Math.max(...edges.map((e) => e.text.length));
  const every = Math.max(1, Math.ceil((longest * 6.2 + 8) / slot));
  for (const [k, edge] of edges.entries()) {
    if (edge.text === "" || k % every !== 0) continue;
    const x = round(edge.x);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 4}" stroke="#94a3b8"/>`,
      `<text x="${x}" y="${plot.y + plot.h + 17}" text-anchor="middle" ${AXIS}>${
        escapeHtml(edge.text)
      }</text>`,
    );
  }
  parts.push(
    `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${plot.y + plot.h}" y2="${
      plot.y + plot.h
    }" stroke="#94a3b8"/>`,
  );
  if (series.count > 0) {
    const quantiles = [["p50", series.p50], ["p90", series.p90], ["p99", series.p99]] as const;
    const placed: number[] = [];
    for (const [name, value] of quantiles) {
      const at = quantileX(series, value, first, last);
      if (at === undefined) continue;
      const x = round(plot.x + at * slot);
      // Labels of close quantiles go on separate rows.
      const row = placed.filter((p) => Math.abs(p - x) < 34).length;
      placed.push(x);
      const c = QUANTILE_COLORS[name];
      parts.push(
        `<line data-quantile="${name}" x1="${x}" x2="${x}" y1="${plot.y}" y2="${
          plot.y + plot.h
        }" stroke="${c}" ` +
          `stroke-width="1.5" stroke-dasharray="4 3"/>`,
        `<text x="${x + 3}" y="${
          plot.y - 2 + row * 12
        }" font-size="10" font-weight="600" fill="${c}">${name}</text>`,
      );
    }
  }
  return svg(width, height, label, "histogram", parts);
}

// Where a quantile falls, in bar slots from the first bar shown: inside its bucket, by linear interpolation
// between the bucket's bounds narrowed to the observed min and max.
function quantileX(series: HistogramSeries, value: number, first: number, last: number): number | undefined {
  if (!Number.isFinite(value)) return undefined;
  const { bounds } = series;
  let bucket = bounds.findIndex((b) => value <= b);
  if (bucket < 0) bucket = bounds.length;
  let lower = bucket === 0 ? series.min : bounds[bucket - 1]!;
  let upper = bucket === bounds.length ? series.max : bounds[bucket]!;
  if (Number.isFinite(series.min)) lower = Math.max(lower, Math.min(series.min, upper));
  if (Number.isFinite(series.max)) upper = Math.min(upper, Math.max(series.max, lower));
  const fraction = upper > lower ? Math.min(1, Math.max(0, (value - lower) / (upper - lower))) : 0.5;
  if (bucket < first) return 0;
  if (bucket > last) return last - first + 1;
  return bucket - first + fraction;
}

function svg(width: number, height: number, label: string, kind: string, parts: readonly string[]): string {
  return `<svg data-chart="${kind}" viewBox="0 0 ${width} ${height}" width="100%" role="img" ` +
    `aria-label="${escapeHtml(label)}" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
