// How the progress sink words a stage's state: pure functions of numbers, so every form can be tested without a
// terminal.
import { escapeControl } from "./_format.ts";

/** What one line of the progress display shows. */
export interface ProgressView {
  /** The stage or worker; control characters are escaped when shown. */
  readonly label: string;
  readonly done: number;
  /** Units in the stage; `undefined` when not known, which shows no percent, bar or ETA. */
  readonly total: number | undefined;
  /** Smoothed units per second; `NaN` until two updates came. */
  readonly perSecond: number;
  readonly elapsedMs: number;
  /** Milliseconds left; `undefined` when it cannot be told. Not shown once the stage is complete. */
  readonly etaMs: number | undefined;
}

const SUFFIXES = ["", "k", "M", "G", "T", "P", "E"];
/** The bar's narrowest and widest forms, in cells between the brackets. */
const MIN_BAR = 10;
const MAX_BAR = 30;

/** A number in three significant digits with an SI suffix: `0.25`, `7.50`, `12.3`, `999`, `12.3k`, `1.50M`. */
export function formatCompact(value: number): string {
  if (!Number.isFinite(value)) return "?";
  if (value === 0) return "0";
  const sign = value < 0 ? "-" : "";
  let v = Math.abs(value);
  if (v < 1) return sign + v.toFixed(2);
  let i = 0;
  // 999.5 would print as "1000" in three digits: it is "1.00k".
  while (v >= 999.5 && i < SUFFIXES.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2;
  return sign + v.toFixed(digits) + SUFFIXES[i];
}

/** A count of units: whole numbers below 100,000 exactly (`450`, `99999`), others compactly (`123k`, `2.50`). */
export function formatCount(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 100_000) return String(value);
  return formatCompact(value);
}

/** Units per second, compactly: `0.50/s`, `12.3/s`, `12.3k/s`; `?/s` when not known yet. */
export function formatRate(perSecond: number): string {
  return `${formatCompact(perSecond)}/s`;
}

/** A duration in whole units, the two largest: `0s`, `59s`, `1m05s`, `2h03m`, `3d04h`; `?` when not finite. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

/** Time left, rounded up to the second so it reads `0s` only at the end; `?` when unknown. */
export function formatEta(ms: number | undefined): string {
  return ms === undefined ? "?" : formatDuration(Math.ceil(Math.max(0, ms) / 1000) * 1000);
}

/** Whole percent done, 0 to 100; 100 only once `done` reached `total`. */
export function percent(done: number, total: number): number {
  if (!(total > 0)) return done >= total ? 100 : 0;
  return Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
}

function complete(view: ProgressView): boolean {
  return view.total !== undefined && view.done >= view.total;
}

/**
 * One line for a log: `fit: 45% 450/1000 12.3/s elapsed 37s ETA 45s`; without a total `load: 450 12.3/s
 * elapsed 37s`. Plain text only: no bar, no control characters.
 */
export function formatPlainLine(view: ProgressView): string {
  const parts = [`${escapeControl(view.label)}:`];
  if (view.total !== undefined) {
    parts.push(`${percent(view.done, view.total)}%`, `${formatCount(view.done)}/${formatCount(view.total)}`);
  } else {
    parts.push(formatCount(view.done));
  }
  parts.push(formatRate(view.perSecond), `elapsed ${formatDuration(view.elapsedMs)}`);
  if (view.total !== undefined && !complete(view)) parts.push(`ETA ${formatEta(view.etaMs)}`);
  return parts.join(" ");
}

/**
 * One line of the terminal block, shorter than `columns` so it never wraps:
 * `fit   [=========>          ]  45% 450/1000 12.3/s 37s ETA 45s`. The label is padded (or cut with `…`) to
 * `labelWidth` so bars line up. When the line does not fit, the bar shrinks, then goes, then the elapsed time, the
 * rate and the counts, and last the label is cut.
 */
export function formatBarLine(view: ProgressView, columns: number, labelWidth: number): string {
  const max = Math.max(1, columns - 1);
  const known = view.total !== undefined;
  const fraction = known ? (view.total! > 0 ? Math.min(1, Math.max(0, view.done / view.total!)) : 1) : 0;
  const counts = known ? `${formatCount(view.done)}/${formatCount(view.total!)}` : formatCount(view.done);
  const pct = known ? `${percent(view.done, view.total!)}%`.padStart(4) : undefined;
  const eta = known && !complete(view) ? `ETA ${formatEta(view.etaMs)}` : undefined;
  let elapsed: string | undefined = formatDuration(view.elapsedMs);
  let rate: string | undefined = formatRate(view.perSecond);
  let countsShown: string | undefined = counts;
  const label = fitLabel(escapeControl(view.label), labelWidth);
  for (let step = 0; step < 4; step++) {
    const stats = [pct, countsShown, rate, elapsed, eta].filter((p) => p !== undefined).join(" ");
    const room = max - label.length - stats.length - 4; // two spaces and two brackets around the bar
    if (known && room >= MIN_BAR) return `${label} ${bar(fraction, Math.min(room, MAX_BAR))} ${stats}`;
    if (label.length + 1 + stats.length <= max) return `${label} ${stats}`;
    if (step === 0) elapsed = undefined;
    else if (step === 1) rate = undefined;
    else if (step === 2) countsShown = undefined;
  }
  const stats = [pct, eta].filter((p) => p !== undefined).join(" ") || counts;
  const labelRoom = max - stats.length - 1;
  if (labelRoom >= 2) return `${fitLabel(label.trimEnd(), labelRoom)} ${stats}`;
  return stats.slice(0, max);
}

function fitLabel(label: string, width: number): string {
  return label.length <= width ? label.padEnd(width) : label.slice(0, Math.max(0, width - 1)) + "…";
}

function bar(fraction: number, width: number): string {
  const filled = Math.floor(fraction * width);
  const head = filled < width && fraction > 0 ? ">" : "";
  return `[${"=".repeat(filled)}${head}${" ".repeat(width - filled - head.length)}]`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
