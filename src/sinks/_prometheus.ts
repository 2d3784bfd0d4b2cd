/**
 * Encodes metric series in the Prometheus text exposition format, version 0.0.4: what a Pushgateway accepts and
 * a Prometheus server scrapes.
 *
 * The output is always a valid exposition, whatever the names:
 * - Metric names become `[a-zA-Z_:][a-zA-Z0-9_:]*` and label names `[a-zA-Z_][a-zA-Z0-9_]*`: any other character
 *   becomes `_`, a leading digit gets a `_` before it, and a label name starting with `__` (reserved for
 *   Prometheus) starts with a single `_` instead. Label names that end up equal within a series get `_2`, `_3`,
 *   ... in the order of their original names; `le` on a histogram series (where it holds the bucket bound) is
 *   written `_le`. A label with an empty value is left out, as Prometheus treats it as absent.
 * - Counters are named with a `_total` suffix unless they already end in it.
 * - Series with the same final name and labels are merged, as a duplicate would make the whole push refused:
 *   counters and histograms are summed (a histogram with other bounds is folded onto the first one's bounds,
 *   each bucket into the first bound at or above its own), and of gauges the last one wins.
 * - Two families of different kinds must not share names: the first in the order of the series keeps its name,
 *   and a later one whose name, or one of a histogram's `_bucket`, `_sum` and `_count`, clashes with another
 *   family's gets its kind added: `x_gauge`, `x_counter_total`, `x_histogram` (then `_2`, `_3`, ... if that is
 *   taken too). Series only ever come in first-seen order, so a name chosen once stays the same for the run.
 *
 * @module
 */

import type { HistogramSeries, Labels, MetricSeries } from "./sink.ts";

type Kind = MetricSeries["kind"];

interface Sample {
  /** Label pairs sorted by name, without `le`. */
  readonly labels: ReadonlyArray<readonly [string, string]>;
  /** Counter or gauge value. */
  value: number;
  /** Histogram bucket bounds and per-bucket counts (not cumulative), and the sum. */
  bounds: readonly number[];
  counts: number[];
  sum: number;
}

interface Family {
  readonly name: string;
  readonly kind: Kind;
  help: string;
  readonly samples: Map<string, Sample>;
}

/**
 * Encodes every series as one exposition, each family with its `# HELP` (when it has a description or unit) and
 * `# TYPE` lines, in the order the families were first seen. `constLabels` are added to every series that has
 * no label of that name.
 */
export function encodePrometheus(series: readonly MetricSeries[], constLabels: Labels = {}): string {
  const families = new Map<string, Family>();
  const chosen = new Map<string, Family>();
  const taken = new Map<string, Family>();
  for (const s of series) {
    const key = `${s.kind}\u0000${s.name}`;
    let family = chosen.get(key);
    if (family === undefined) {
      family = familyFor(s, families, taken);
      chosen.set(key, family);
    }
    if (family.help === "") family.help = helpText(s.description, s.unit);
    const labels = seriesLabels(s.labels, constLabels, s.kind === "histogram");
    const id = JSON.stringify(labels);
    const sample = family.samples.get(id);
    if (sample === undefined) family.samples.set(id, newSample(s, labels));
    else merge(sample, s);
  }
  let text = "";
  for (const family of families.values()) text += encodeFamily(family);
  return text;
}

/** A metric name made valid: other characters become `_`, and a leading digit gets a `_` before it. */
export function metricName(name: string): string {
  const valid = name.replace(/[^a-zA-Z0-9_:]/gu, "_");
  if (valid === "") return "_";
  return /^[0-9]/.test(valid) ? `_${valid}` : valid;
}

/**
 * A label name made valid: other characters become `_`, a leading digit gets a `_` before it, and leading
 * underscores are cut to one, since names starting with `__` are reserved for Prometheus.
 */
export function labelName(name: string): string {
  let valid = name.replace(/[^a-zA-Z0-9_]/gu, "_");
  if (valid === "") return "_";
  if (/^[0-9]/.test(valid)) valid = `_${valid}`;
  return valid.startsWith("__") ? valid.replace(/^_+/, "_") : valid;
}

/** A label value inside its double quotes: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** A `# HELP` text: backslash and newline escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/**
 * A sample value as Prometheus reads it: `NaN`, `+Inf`, `-Inf`, integers in plain digits (no exponent, however
 * large), other numbers in the shortest form that reads back exactly.
 */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isInteger(value)) return Math.abs(value) < 1e21 ? String(value) : BigInt(value).toString();
  return String(value);
}

function familyFor(s: MetricSeries, families: Map<string, Family>, taken: Map<string, Family>): Family {
  const base = metricName(s.name);
  const stem = s.kind === "counter" ? base.replace(/_total$/, "") : base;
  const named = (suffix: string) => (s.kind === "counter" ? `${stem}${suffix}_total` : `${stem}${suffix}`);
  for (let n = 1;; n++) {
    const name = n === 1 ? named("") : named(n === 2 ? `_${s.kind}` : `_${s.kind}_${n - 1}`);
    const existing = families.get(name);
    if (existing !== undefined && existing.kind === s.kind) return existing;
    const names = sampleNames(name, s.kind);
    if (existing !== undefined || names.some((sample) => taken.has(sample))) continue;
    const family: Family = { name, kind: s.kind, help: "", samples: new Map() };
    families.set(name, family);
    for (const sample of names) taken.set(sample, family);
    return family;
  }
}

/** The names a family's lines use, which no other family may use. */
function sampleNames(name: string, kind: Kind): string[] {
  return kind === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}

function helpText(description: string, unit: string): string {
  if (unit === "") return description;
  return description === "" ? `Unit: ${unit}` : `${description} (unit: ${unit})`;
}

function seriesLabels(own: Labels, constLabels: Labels, histogram: boolean): Array<[string, string]> {
  const used = new Set<string>(histogram ? ["le"] : []);
  const pairs: Array<[string, string]> = [];
  for (const original of Object.keys(own).sort()) {
    const value = own[original]!;
    if (value === "") continue;
    const base = histogram && labelName(original) === "le" ? "_le" : labelName(original);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    pairs.push([name, value]);
  }
  for (const [original, value] of Object.entries(constLabels)) {
    const name = labelName(original);
    if (value === "" || used.has(name)) continue;
    used.add(name);
    pairs.push([name, value]);
  }
  return pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function newSample(s: MetricSeries, labels: Array<[string, string]>): Sample {
  if (s.kind !== "histogram") return { labels, value: s.value, bounds: [], counts: [], sum: 0 };
  return { labels, value: 0, bounds: s.bounds, counts: [...s.counts], sum: s.sum };
}

function merge(sample: Sample, s: MetricSeries): void {
  if (s.kind === "gauge") sample.value = s.value;
  else if (s.kind === "counter") sample.value += s.value;
  else mergeHistogram(sample, s);
}

/**
 * Adds a histogram's counts to a sample. With other bounds, each bucket's count goes to the first of the
 * sample's bounds at or above its own upper bound, so a cumulative count at a bound never includes a value
 * above that bound.
 */
function mergeHistogram(sample: Sample, s: HistogramSeries): void {
  sample.sum += s.sum;
  const same = s.bounds.length === sample.bounds.length && s.bounds.every((b, i) => b === sample.bounds[i]);
  for (const [i, count] of s.counts.entries()) {
    let target = i;
    if (!same) {
      const upper = s.bounds[i] ?? Infinity;
      target = sample.bounds.findIndex((b) => b >= upper);
      if (target === -1) target = sample.bounds.length;
    }
    sample.counts[target] = (sample.counts[target] ?? 0) + count;
  }
}

function encodeFamily(family: Family): string {
  const { name, kind } = family;
  let text = family.help === "" ? "" : `# HELP ${name} ${escapeHelp(family.help)}\n`;
  text += `# TYPE ${name} ${kind}\n`;
  for (const sample of family.samples.values()) {
    if (kind !== "histogram") {
      text += `${name}${labelText(sample.labels)} ${formatNumber(sample.value)}\n`;
      continue;
    }
    let cumulative = 0;
    for (const [i, bound] of sample.bounds.entries()) {
      cumulative += sample.counts[i] ?? 0;
      // A bound of +Inf would repeat the last bucket; its values are counted there.
      if (bound === Infinity) continue;
      text += `${name}_bucket${labelText(sample.labels, formatNumber(bound))} ${formatNumber(cumulative)}\n`;
    }
    for (let i = sample.bounds.length; i < sample.counts.length; i++) cumulative += sample.counts[i] ?? 0;
    text += `${name}_bucket${labelText(sample.labels, "+Inf")} ${formatNumber(cumulative)}\n`;
    text += `${name}_sum${labelText(sample.labels)} ${formatNumber(sample.sum)}\n`;
    text += `${name}_count${labelText(sample.labels)} ${formatNumber(cumulative)}\n`;
  }
  return text;
}

function labelText(labels: ReadonlyArray<readonly [string, string]>, le?: string): string {
  const parts = labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}
