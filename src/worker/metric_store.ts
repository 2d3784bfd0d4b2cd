import { CELLS_PER_BLOCK, type DefineMessage, type MetricKind } from "../protocol.ts";
import type { Labels, MetricSeries, MetricsSnapshot } from "../sinks/sink.ts";
import { HistogramState } from "./histogram_state.ts";

/** Labels of the series that takes a metric's updates once it has `maxLabelSets` label sets. */
export const OVERFLOW_LABELS: Labels = Object.freeze({ "otel.metric.overflow": "true" });

interface Series {
  readonly kind: MetricKind;
  readonly name: string;
  readonly labels: Labels;
  readonly unit: string;
  readonly description: string;
  /** Counter cells and gauge cells of every handle feeding this series. */
  readonly cells: Cell[];
  histogram?: HistogramState;
  /** Gauge: the last value seen to change; NaN until one was set. */
  value: number;
}

interface Cell {
  readonly block: Float64Array;
  readonly index: number;
  /** Gauge: the version at the last look, to tell which handles set a value since. */
  version: number;
}

interface Definition {
  readonly series: Series | undefined;
}

/**
 * Every metric series of the run, inside the sidecar. Counter and gauge values are read from the producers'
 * shared cells when a snapshot is taken; histogram values arrive in batches and are aggregated here.
 */
export class MetricStore {
  readonly #series = new Map<string, Series>();
  readonly #kinds = new Map<string, MetricKind>();
  readonly #labelSets = new Map<string, number>();
  /** Per producer: its blocks of cells and its handles' definitions by id. */
  readonly #producers = new Map<
    number,
    { blocks: Float64Array[]; definitions: Definition[]; histograms: Array<HistogramState | undefined> }
  >();
  readonly #maxLabelSets: number;
  readonly #warn: (message: string) => void;

  /** `warn` reports a refused definition or an overflowing metric, once each. */
  constructor(maxLabelSets: number, warn: (message: string) => void) {
    this.#maxLabelSets = maxLabelSets;
    this.#warn = warn;
  }

  /** Takes a handle's definition from producer `producer`, before any of its updates. */
  define(producer: number, message: DefineMessage): void {
    let state = this.#producers.get(producer);
    if (!state) this.#producers.set(producer, state = { blocks: [], definitions: [], histograms: [] });
    if (message.block) state.blocks[Math.floor(message.id / CELLS_PER_BLOCK)] = message.block;
    const known = this.#kinds.get(message.name);
    if (known !== undefined && known !== message.metric) {
      state.definitions[message.id] = { series: undefined };
      this.#warn(
        `Telemetry metric ${
          JSON.stringify(message.name)
        } is a ${known}; a ${message.metric} of the same name ` +
          `is ignored`,
      );
      return;
    }
    this.#kinds.set(message.name, message.metric);
    const series = this.#seriesFor(message);
    state.definitions[message.id] = { series };
    state.histograms[message.id] = series.histogram;
    if (message.metric !== "histogram") {
      const block = state.blocks[Math.floor(message.id / CELLS_PER_BLOCK)];
      if (block === undefined) {
        this.#warn(
          `Telemetry metric ${JSON.stringify(message.name)} arrived without its memory; it is ignored`,
        );
        return;
      }
      series.cells.push({ block, index: message.id % CELLS_PER_BLOCK, version: 0 });
    }
  }

  /** The histograms of producer `producer`'s handles, by handle id (undefined for other kinds). */
  histograms(producer: number): ReadonlyArray<HistogramState | undefined> {
    return this.#producers.get(producer)?.histograms ?? [];
  }

  /** Reads every series now. */
  snapshot(startTime: number, final: boolean): MetricsSnapshot {
    const series: MetricSeries[] = [];
    for (const s of this.#series.values()) {
      const base = { name: s.name, labels: s.labels, unit: s.unit, description: s.description };
      if (s.kind === "counter") {
        let value = 0;
        for (const cell of s.cells) value += cell.block[cell.index]!;
        series.push({ kind: "counter", ...base, value });
      } else if (s.kind === "gauge") {
        // The last value set: among handles that set one since the last look, the last in definition order.
        for (const cell of s.cells) {
          const version = cell.block[cell.index + CELLS_PER_BLOCK]!;
          if (version !== cell.version) {
            cell.version = version;
            const now = cell.block[cell.index]!;
            if (now === now) s.value = now;
          }
        }
        if (s.value === s.value) series.push({ kind: "gauge", ...base, value: s.value });
      } else {
        const h = s.histogram!;
        series.push({
          kind: "histogram",
          ...base,
          count: h.count,
          sum: h.sum,
          min: h.min,
          max: h.max,
          bounds: h.bounds,
          counts: [...h.counts],
          p50: h.quantile(0.5),
          p90: h.quantile(0.9),
          p99: h.quantile(0.99),
        });
      }
    }
    return { startTime, time: performance.timeOrigin + performance.now(), final, series };
  }

  /** True when some series exists. */
  get size(): number {
    return this.#series.size;
  }

  #seriesFor(message: DefineMessage): Series {
    let labels: Labels = message.labels;
    let key = seriesKey(message.name, labels);
    let series = this.#series.get(key);
    if (series) return series;
    const sets = this.#labelSets.get(message.name) ?? 0;
    if (sets >= this.#maxLabelSets) {
      if (sets === this.#maxLabelSets) {
        this.#labelSets.set(message.name, sets + 1);
        this.#warn(
          `Telemetry metric ${JSON.stringify(message.name)} has more than ${this.#maxLabelSets} label sets ` +
            `(maxLabelSets); later ones go to its series {otel.metric.overflow="true"}`,
        );
      }
      labels = OVERFLOW_LABELS;
      key = seriesKey(message.name, labels);
      series = this.#series.get(key);
      if (series) return series;
    } else {
      this.#labelSets.set(message.name, sets + 1);
    }
    series = {
      kind: message.metric,
      name: message.name,
      labels,
      unit: message.unit,
      description: message.description,
      cells: [],
      value: NaN,
    };
    if (message.metric === "histogram") series.histogram = new HistogramState(message.buckets ?? []);
    this.#series.set(key, series);
    return series;
  }
}

function seriesKey(name: string, labels: Labels): string {
  const entries = Object.entries(labels).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `${name}\u0000${JSON.stringify(entries)}`;
}
