// Text for the HTML report: escaping, numbers with units, durations and axis ticks. Written by hand rather than
// with Intl so the report reads the same on every runtime and ICU build.

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** An integer with thousands separators (`1,234,567`); other numbers through `formatNumber`. */
export function formatCount(value: number): string {
  if (!Number.isInteger(value)) return formatNumber(value);
  const sign = value < 0 ? "-" : "";
  return sign + String(Math.abs(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

const SI = [
  { factor: 1e12, suffix: "T" },
  { factor: 1e9, suffix: "G" },
  { factor: 1e6, suffix: "M" },
  { factor: 1e3, suffix: "k" },
];

/** A number short enough for an axis tick or a table cell: `0.0125`, `3.5`, `812`, `12.5k`, `3.2M`. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "-∞";
  const size = Math.abs(value);
  for (const { factor, suffix } of SI) {
    if (size >= factor) return trim(value / factor) + suffix;
  }
  return trim(value);
}

// Three significant digits, without trailing zeros.
function trim(value: number): string {
  if (value === 0) return "0";
  const size = Math.abs(value);
  const digits = size >= 100
    ? 0
    : size >= 10
    ? 1
    : size >= 1
    ? 2
    : Math.min(8, 2 - Math.floor(Math.log10(size)));
  return String(Number(value.toFixed(digits)));
}

const BYTE_UNITS = new Set(["By", "B", "byte", "bytes"]);
const BINARY = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * A value with its unit: durations in `"ms"` or `"s"` move to seconds or minutes when large (`1.5 s`), bytes to
 * binary multiples (`3.2 MiB`), `"%"` sticks to the number, any other unit follows it after a space.
 */
export function formatQuantity(value: number, unit: string): string {
  if (!Number.isFinite(value)) return formatNumber(value);
  if (unit === "ms" || unit === "s") return formatDuration(unit === "s" ? value * 1000 : value);
  if (BYTE_UNITS.has(unit)) {
    let size = value;
    let index = 0;
    while (Math.abs(size) >= 1024 && index < BINARY.length - 1) {
      size /= 1024;
      index++;
    }
    return `${trim(size)} ${BINARY[index]}`;
  }
  if (unit === "%" || unit === "") return formatNumber(value) + unit;
  return `${formatNumber(value)} ${unit}`;
}

/** A duration given in milliseconds: `0.42 ms`, `850 ms`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return formatNumber(ms);
  const size = Math.abs(ms);
  const sign = ms < 0 ? "-" : "";
  if (size < 1000) return `${sign}${trim(size)} ms`;
  if (size < 60_000) return `${sign}${trim(size / 1000)} s`;
  const seconds = Math.round(size / 1000);
  if (seconds < 3600) return `${sign}${Math.floor(seconds / 60)} min ${pad(seconds % 60)} s`;
  return `${sign}${Math.floor(seconds / 3600)} h ${pad(Math.floor(seconds / 60) % 60)} min`;
}

/** An offset from the run's start for a time axis: `0`, `250ms`, `45s`, `2m30s`, `1h05m`. */
export function formatOffset(ms: number): string {
  if (ms === 0) return "0";
  if (Math.abs(ms) < 1000) return `${trim(ms)}ms`;
  if (Math.abs(ms) < 60_000) return `${trim(ms / 1000)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) {
    const rest = seconds % 60;
    return `${Math.floor(seconds / 60)}m${rest === 0 ? "" : pad(rest) + "s"}`;
  }
  const minutes = Math.floor(seconds / 60) % 60;
  return `${Math.floor(seconds / 3600)}h${minutes === 0 ? "" : pad(minutes) + "m"}`;
}

/** An epoch time as `2025-01-31 14:05:09.123 UTC`. */
export function formatTime(epochMs: number): string {
  if (!Number.isFinite(epochMs)) return "–";
  return new Date(epochMs).toISOString().replace("T", " ").replace("Z", " UTC");
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/**
 * About `count` round tick values (1, 2 or 5 times a power of ten) covering `[min, max]`; the first and last
 * ticks enclose the range, so they serve as the axis' ends.
 */
export function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) {
    const pad = min === 0 ? 1 : Math.abs(min) / 2;
    return niceTicks(min - (min === 0 ? 0 : pad), max + pad, count);
  }
  const rough = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  return ticksOf(min, max, step);
}

/**
 * Ticks for values of a unit: bytes on round binary multiples (`512 MiB`, `1 GiB`), anything else as
 * `niceTicks` gives them.
 */
export function unitTicks(min: number, max: number, count: number, unit: string): number[] {
  if (!BYTE_UNITS.has(unit)) return niceTicks(min, max, count);
  const size = Math.max(Math.abs(min), Math.abs(max));
  let scale = 1;
  while (size / scale >= 1024 && scale < 1024 ** 4) scale *= 1024;
  return niceTicks(min / scale, max / scale, count).map((t) => t * scale);
}

const TIME_STEPS = [
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  200,
  500,
  1000,
  2000,
  5000,
  10_000,
  15_000,
  30_000,
  60_000,
  120_000,
  300_000,
  600_000,
  900_000,
  1_800_000,
  3_600_000,
  7_200_000,
  10_800_000,
  21_600_000,
  43_200_000,
  86_400_000,
];

/** About `count` ticks in milliseconds from 0 to past `durationMs`, on round seconds, minutes or hours. */
export function timeTicks(durationMs: number, count: number): number[] {
  const rough = Math.max(durationMs, 1) / Math.max(1, count);
  const step = TIME_STEPS.find((s) => s >= rough) ?? Math.ceil(rough / 86_400_000) * 86_400_000;
  return ticksOf(0, Math.max(durationMs, 1), step);
}

function ticksOf(min: number, max: number, step: number): number[] {
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  // Multiplied, not added, so 0.1 + 0.2 drift does not reach the labels.
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}
