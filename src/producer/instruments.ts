import { CELLS_PER_BLOCK, type DefineMessage, KIND_SAMPLE, type MetricKind } from "../protocol.ts";
import type { LogLevel } from "../sinks/sink.ts";
import type { Producer } from "./producer.ts";
import { describe, errorMessage } from "../_text.ts";

/** A metric's fixed labels: names to string values. */
export type MetricLabels = Readonly<Record<string, string>>;

/** Unit and description of a metric handle, passed on to the sinks. */
export interface MetricOptions {
  /** Unit of the values, for example `"ms"` or `"rows"`. Default `""`. */
  readonly unit?: string;
  /** What the metric counts or measures. Default `""`. */
  readonly description?: string;
}

/** Options of a histogram handle. */
export interface HistogramOptions extends MetricOptions {
  /**
   * Upper bounds of the buckets, ascending and finite. Default: OpenTelemetry's
   * `[0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]`.
   */
  readonly buckets?: readonly number[];
}

/** A monotonic counter handle. Its total is kept in memory shared with the sidecar, so `add()` sends nothing. */
export interface Counter {
  /** Adds `n` (default 1). A negative, `NaN`, infinite or non-number `n` is ignored and counted in `invalid`. */
  add(n?: number): void;
}

/** A gauge handle: the last value set wins. */
export interface Gauge {
  /** Sets the value. `NaN` or a non-number is ignored and counted in `invalid`. */
  set(value: number): void;
}

/** A histogram handle: every value travels to the sidecar, which keeps buckets, sum, count and quantiles. */
export interface Histogram {
  /** Records one value. A non-finite value or a non-number is ignored and counted in `invalid`. */
  record(value: number): void;
}

/** A timer handle: a histogram of durations in milliseconds. */
export interface Timer {
  /** Starts timing; the returned function records the milliseconds since this call and returns them. */
  start(): () => number;
}

/** Which span a new span belongs in; a `Span` is one, and so is `{ traceId, spanId }` sent to another thread. */
export interface SpanContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
}

/** A timed operation. End it once; child spans share its trace. */
export interface Span extends SpanContext {
  /** Starts a span inside this one. */
  span(name: string, attributes?: Readonly<Record<string, unknown>>): Span;
  /** Sets an attribute, reported when the span ends. */
  setAttribute(key: string, value: unknown): void;
  /**
   * Ends the span and sends it. With an `error`, its status is `"error"` with the error's message. Later calls do
   * nothing.
   */
  end(error?: unknown): void;
}

/** The reporting API shared by the main thread's `Telemetry` and a worker's `TelemetryProducer`. */
export interface Instruments {
  /** Gets the counter handle of `name` with `labels`; the same arguments give the same handle. */
  counter(name: string, labels?: MetricLabels, options?: MetricOptions): Counter;
  /** Gets the gauge handle of `name` with `labels`. */
  gauge(name: string, labels?: MetricLabels, options?: MetricOptions): Gauge;
  /** Gets the histogram handle of `name` with `labels`. */
  histogram(name: string, labels?: MetricLabels, options?: HistogramOptions): Histogram;
  /** Gets a timer: a histogram of milliseconds (unit `"ms"`). */
  timer(name: string, labels?: MetricLabels): Timer;
  /** Runs `fn` and records its duration in the timer `name`; for a promise, when it settles. */
  time<T>(name: string, fn: () => T): T;
  /** Sends a log line with optional fields. An unknown level is sent as `"info"` and counted in `invalid`. */
  log(level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Starts a span: a root span, or a child of `parent` (a span of this or another thread). */
  span(name: string, attributes?: Readonly<Record<string, unknown>>, parent?: SpanContext | null): Span;
  /**
   * Reports progress of a stage: `done` units of `total`. The label defaults to this producer's name (`"main"` or
   * the name given to `connect()`), so each compute worker gets its own bar.
   */
  progress(done: number, total?: number, label?: string): void;
}

const DEFAULT_BUCKETS: readonly number[] = [
  0,
  5,
  10,
  25,
  50,
  75,
  100,
  250,
  500,
  750,
  1000,
  2500,
  5000,
  7500,
  10000,
];
const LEVELS: ReadonlySet<string> = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);

class CounterHandle implements Counter {
  readonly #cells: Float64Array;
  readonly #index: number;
  readonly #producer: Producer;
  #total = 0;

  constructor(cells: Float64Array, index: number, producer: Producer) {
    this.#cells = cells;
    this.#index = index;
    this.#producer = producer;
  }

  add(n: number = 1): void {
    // The total is kept here and stored whole: a store costs V8 less than a load-add-store on shared memory.
    // Finite as `n - n === 0`: Node 24's V8 compiled `n < Infinity` here into code 2-3 ns slower.
    if (typeof n === "number" && n >= 0 && n - n === 0) this.#cells[this.#index] = this.#total += n;
    else this.#producer.invalid();
  }
}

class GaugeHandle implements Gauge {
  readonly #cells: Float64Array;
  readonly #index: number;
  readonly #producer: Producer;

  constructor(cells: Float64Array, index: number, producer: Producer) {
    this.#cells = cells;
    this.#index = index;
    this.#producer = producer;
  }

  set(value: number): void {
    // NaN marks a gauge never set, so it cannot be a value. The version (in the block's second half) lets the
    // sidecar see a value set again, even an equal one.
    if (typeof value === "number" && value === value) {
      this.#cells[this.#index] = value;
      this.#cells[this.#index + CELLS_PER_BLOCK]!++;
    } else this.#producer.invalid();
  }
}

class HistogramHandle implements Histogram {
  readonly #kind: number;
  readonly #producer: Producer;

  constructor(id: number, producer: Producer) {
    this.#kind = KIND_SAMPLE + id;
    this.#producer = producer;
  }

  record(value: number): void {
    if (typeof value === "number" && value - value === 0) this.#producer.sample(this.#kind, value);
    else this.#producer.invalid();
  }
}

class TimerHandle implements Timer {
  readonly #histogram: Histogram;

  constructor(histogram: Histogram) {
    this.#histogram = histogram;
  }

  start(): () => number {
    const started = performance.now();
    let recorded = -1;
    return () => {
      if (recorded < 0) {
        recorded = performance.now() - started;
        this.#histogram.record(recorded);
      }
      return recorded;
    };
  }
}

class SpanHandle implements Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly #parent: string | undefined;
  readonly #name: string;
  readonly #started: number;
  readonly #attributes: Record<string, unknown>;
  readonly #producer: Producer;
  #ended = false;

  constructor(
    producer: Producer,
    name: string,
    attributes: Readonly<Record<string, unknown>> | undefined,
    parent?: SpanContext,
  ) {
    this.#producer = producer;
    this.#name = textOf(producer, name);
    this.#attributes = attributes === undefined ? {} : fieldsOf(producer, attributes);
    this.traceId = parent ? parent.traceId : randomHex(16);
    this.spanId = randomHex(8);
    this.#parent = parent?.spanId;
    this.#started = performance.timeOrigin + performance.now();
  }

  span(name: string, attributes?: Readonly<Record<string, unknown>>): Span {
    return new SpanHandle(this.#producer, name, attributes, this);
  }

  setAttribute(key: string, value: unknown): void {
    if (this.#ended) return;
    Object.defineProperty(this.#attributes, textOf(this.#producer, key), {
      value: this.#producer.copy(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }

  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const record: Record<string, unknown> = {
      type: "span",
      name: this.#name,
      traceId: this.traceId,
      spanId: this.spanId,
      startTime: this.#started,
      endTime: performance.timeOrigin + performance.now(),
      attributes: this.#attributes,
      status: error === undefined ? "unset" : "error",
    };
    if (this.#parent !== undefined) record.parentSpanId = this.#parent;
    if (error !== undefined) {
      record.statusMessage = textOf(this.#producer, errorMessage(error));
    }
    this.#producer.record(record);
  }
}

/**
 * The metric handles, logs, spans and progress of one producer. Handles are made once (each announced to the
 * sidecar with a `define` message) and then cost a shared-memory add or a typed-array store per update.
 */
export class InstrumentSet implements Instruments {
  readonly #producer: Producer;
  readonly #handles = new Map<string, Counter | Gauge | Histogram>();
  readonly #kinds = new Map<string, MetricKind>();
  #block: Float64Array = new Float64Array(0);
  #nextId = 0;

  constructor(producer: Producer) {
    this.#producer = producer;
  }

  counter(name: string, labels?: MetricLabels, options?: MetricOptions): Counter {
    return this.#handle(
      "counter",
      name,
      labels,
      options,
      (cells, index) => new CounterHandle(cells, index, this.#producer),
    ) as Counter;
  }

  gauge(name: string, labels?: MetricLabels, options?: MetricOptions): Gauge {
    return this.#handle(
      "gauge",
      name,
      labels,
      options,
      (cells, index) => new GaugeHandle(cells, index, this.#producer),
    ) as Gauge;
  }

  histogram(name: string, labels?: MetricLabels, options?: HistogramOptions): Histogram {
    return this.#handle(
      "histogram",
      name,
      labels,
      options,
      (_cells, _index, id) => new HistogramHandle(id, this.#producer),
    ) as Histogram;
  }

  timer(name: string, labels?: MetricLabels): Timer {
    return new TimerHandle(this.histogram(name, labels, { unit: "ms" }));
  }

  time<T>(name: string, fn: () => T): T {
    const stop = this.timer(name).start();
    let result: T;
    try {
      result = fn();
    } catch (error) {
      stop();
      throw error;
    }
    if (result instanceof Promise) {
      return result.finally(stop) as T;
    }
    stop();
    return result;
  }

  log(level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>): void {
    let known: string = level;
    if (typeof level !== "string" || !LEVELS.has(level)) {
      this.#producer.invalid();
      known = "info";
    }
    this.#producer.record({
      type: "log",
      time: performance.timeOrigin + performance.now(),
      level: known,
      message: textOf(this.#producer, message),
      fields: fields === undefined ? {} : fieldsOf(this.#producer, fields),
    });
  }

  span(name: string, attributes?: Readonly<Record<string, unknown>>, parent?: SpanContext | null): Span {
    let context: SpanContext | undefined;
    if (parent !== undefined && parent !== null) {
      try {
        const { traceId, spanId } = parent;
        if (
          typeof traceId === "string" && /^[0-9a-f]{32}$/.test(traceId) && typeof spanId === "string" &&
          /^[0-9a-f]{16}$/.test(spanId)
        ) context = { traceId, spanId };
      } catch { /* a parent whose fields throw is malformed */ }
      // A malformed parent starts a root span instead, counted: spans must never break the computation.
      if (context === undefined) this.#producer.invalid();
    }
    return new SpanHandle(this.#producer, name, attributes, context);
  }

  progress(done: number, total?: number, label?: string): void {
    if (typeof done !== "number" || !(done >= 0 && done < Infinity)) return this.#producer.invalid();
    const record: Record<string, unknown> = {
      type: "progress",
      time: performance.timeOrigin + performance.now(),
      done,
    };
    if (total !== undefined) {
      if (typeof total === "number" && total >= 0 && total < Infinity) record.total = total;
      else this.#producer.invalid();
    }
    if (label !== undefined) record.label = textOf(this.#producer, label);
    this.#producer.record(record);
  }

  #handle(
    metric: MetricKind,
    name: string,
    labels: MetricLabels | undefined,
    options: HistogramOptions | undefined,
    make: (cells: Float64Array, index: number, id: number) => Counter | Gauge | Histogram,
  ): Counter | Gauge | Histogram {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`Invalid metric name: expected a non-empty string, got ${describe(name)}`);
    }
    // Everything is checked before an id or a cell is taken, so a refused handle leaves no gap behind.
    const fixed = checkLabels(name, labels);
    const unit = text("unit", options?.unit);
    const description = text("description", options?.description);
    const buckets = metric === "histogram" ? checkBuckets(name, options?.buckets) : undefined;
    const key = `${name}\u0000${JSON.stringify(Object.entries(fixed).sort(byKey))}`;
    const known = this.#kinds.get(name);
    if (known !== undefined && known !== metric) {
      throw new TypeError(`Metric ${JSON.stringify(name)} is a ${known}: it cannot also be a ${metric}`);
    }
    const existing = this.#handles.get(key);
    if (existing) return existing;
    const id = this.#nextId++;
    const index = id % CELLS_PER_BLOCK;
    let block: Float64Array | undefined;
    if (index === 0) {
      // Gauges start at NaN, meaning never set; counters are read from 0.
      this.#block = block = new Float64Array(new SharedArrayBuffer(CELLS_PER_BLOCK * 2 * 8));
    }
    if (metric === "gauge") this.#block[index] = NaN;
    const message: DefineMessage = {
      kind: "define",
      id,
      metric,
      name,
      labels: fixed,
      unit,
      description,
      ...(buckets ? { buckets } : {}),
      ...(block ? { block } : {}),
    };
    this.#producer.define(message);
    const handle = make(this.#block, index, id);
    this.#handles.set(key, handle);
    this.#kinds.set(name, metric);
    return handle;
  }
}

function checkLabels(name: string, labels: MetricLabels | undefined): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) {
    throw new TypeError(`Invalid labels of metric ${JSON.stringify(name)}: expected an object of strings`);
  }
  const fixed: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== "string") {
      throw new TypeError(
        `Invalid label ${JSON.stringify(key)} of metric ${JSON.stringify(name)}: expected a string, got ${
          describe(value)
        }`,
      );
    }
    // A label may be named "__proto__": defined, not assigned, so it stays a label.
    Object.defineProperty(fixed, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return fixed;
}

function checkBuckets(name: string, buckets: readonly number[] | undefined): readonly number[] {
  if (buckets === undefined) return DEFAULT_BUCKETS;
  if (
    !Array.isArray(buckets) ||
    buckets.some((b, i) => typeof b !== "number" || !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))
  ) {
    throw new TypeError(
      `Invalid buckets of histogram ${JSON.stringify(name)}: expected finite numbers in ascending order`,
    );
  }
  return [...buckets];
}

function text(option: string, value: string | undefined): string {
  if (value === undefined) return "";
  if (typeof value !== "string") throw new TypeError(`Invalid metric ${option}: expected a string`);
  return value;
}

function byKey(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * Fields and attributes are copied by the event rules and limits, so later changes by the caller do not show and
 * nothing in them can throw.
 */
function fieldsOf(producer: Producer, fields: unknown): Record<string, unknown> {
  const copy = producer.copy(fields);
  return typeof copy === "object" && copy !== null && !Array.isArray(copy) && !(copy instanceof Map)
    ? copy as Record<string, unknown>
    : { value: copy };
}

/** A name or message as text, cut to `maxEventBytes`; never throws. */
function textOf(producer: Producer, value: unknown): string {
  let text: string;
  if (typeof value === "string") text = value;
  else {
    try {
      text = String(value);
    } catch (error) {
      text = `[Unserializable: ${errorMessage(error)}]`;
    }
  }
  return producer.copy(text) as string;
}

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  let hex = "";
  for (const byte of buffer) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
