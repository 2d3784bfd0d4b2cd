/**
 * The sink interface: what runs inside the sidecar and receives the run's events, records and metrics.
 *
 * @module
 */

/** The producer a batch came from. */
export interface ProducerMeta {
  /** 0 for the thread that called `startTelemetry()`, then 1, 2, ... in `connect()` order. */
  readonly id: number;
  /** `"main"`, or the name given to `connect()`. */
  readonly name: string;
}

/** A batch of events from one producer, in the order they were sent. */
export interface EventBatch {
  /** The producer that sent these events. */
  readonly producer: ProducerMeta;
  /** Number of events. */
  readonly length: number;
  /** The events' values. */
  readonly values: readonly unknown[];
  /** Each event's time in epoch milliseconds, taken on the sending thread. */
  readonly times: Float64Array;
}

/** A metric's fixed labels (OpenTelemetry calls them attributes): names to string values. */
export type Labels = Readonly<Record<string, string>>;

/** Fields of every metric series. */
export interface SeriesBase {
  /** The metric's name as given to `counter()`, `gauge()`, `histogram()` or `timer()`. */
  readonly name: string;
  /** The series' labels; `{ "otel.metric.overflow": "true" }` for the overflow series of a metric past its cap. */
  readonly labels: Labels;
  /** Unit, as given when the handle was made (`"ms"` for timers); `""` when none. */
  readonly unit: string;
  /** Description, as given when the handle was made; `""` when none. */
  readonly description: string;
}

/** A monotonic sum: everything added since the run started, over every producer. */
export interface CounterSeries extends SeriesBase {
  /** Which kind of series this is. */
  readonly kind: "counter";
  /** Total since the run started. */
  readonly value: number;
}

/** The last value set, by any producer. */
export interface GaugeSeries extends SeriesBase {
  /** Which kind of series this is. */
  readonly kind: "gauge";
  /** The last value set. */
  readonly value: number;
}

/** A distribution of recorded values since the run started, aggregated by the sidecar. */
export interface HistogramSeries extends SeriesBase {
  /** Which kind of series this is. */
  readonly kind: "histogram";
  /** Number of recorded values. */
  readonly count: number;
  /** Their sum. */
  readonly sum: number;
  /** The smallest value; `NaN` while `count` is 0. */
  readonly min: number;
  /** The largest value; `NaN` while `count` is 0. */
  readonly max: number;
  /** Upper bounds of the buckets, ascending and finite; the last bucket (to `+Inf`) has no bound here. */
  readonly bounds: readonly number[];
  /** Values per bucket (not cumulative), `bounds.length + 1` entries: `counts[i]` holds values `<= bounds[i]`. */
  readonly counts: readonly number[];
  /** Quantiles within 1% relative error; `NaN` while `count` is 0. */
  readonly p50: number;
  /** 90th percentile. */
  readonly p90: number;
  /** 99th percentile. */
  readonly p99: number;
}

/** One metric series: a metric name with one set of labels. */
export type MetricSeries = CounterSeries | GaugeSeries | HistogramSeries;

/** Every metric series of the run at one moment. Values are cumulative since `startTime`. */
export interface MetricsSnapshot {
  /** When the run started, epoch milliseconds. */
  readonly startTime: number;
  /** When this snapshot was taken, epoch milliseconds. */
  readonly time: number;
  /** True for the last snapshot, taken at stop after every earlier update was handled. */
  readonly final: boolean;
  /** Every series with at least one update so far, in the order the series were first seen. */
  readonly series: readonly MetricSeries[];
}

/** Severity of a log record, lowest first. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** A line logged with `telemetry.log()`. */
export interface LogRecord {
  /** Which kind of record this is. */
  readonly type: "log";
  /** The producer that sent it. */
  readonly producer: ProducerMeta;
  /** Epoch milliseconds, taken on the sending thread. */
  readonly time: number;
  /** Severity. */
  readonly level: LogLevel;
  /** The line. */
  readonly message: string;
  /** Extra fields, copied when logged. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A span that ended: one timed operation, possibly inside another. */
export interface SpanRecord {
  /** Which kind of record this is. */
  readonly type: "span";
  /** The producer that sent it. */
  readonly producer: ProducerMeta;
  /** The name given when it was made. */
  readonly name: string;
  /** 32 lowercase hex digits, shared by every span of one trace. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
  /** The enclosing span's id; absent for a root span. */
  readonly parentSpanId?: string;
  /** Epoch milliseconds, fractional. */
  readonly startTime: number;
  /** Epoch milliseconds, fractional. */
  readonly endTime: number;
  /** Attributes given at start and with `setAttribute()`, copied at `end()`. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** `"error"` when ended with an error; `"unset"` otherwise. */
  readonly status: "unset" | "error";
  /** The error's message when `status` is `"error"`. */
  readonly statusMessage?: string;
}

/** Progress of one stage or worker, as reported by `telemetry.progress()`. */
export interface ProgressRecord {
  /** Which kind of record this is. */
  readonly type: "progress";
  /** The producer that sent it. */
  readonly producer: ProducerMeta;
  /** Epoch milliseconds, taken on the sending thread. */
  readonly time: number;
  /** The stage: the label given, or the producer's name. */
  readonly label: string;
  /** Units done so far in this stage. */
  readonly done: number;
  /** Units in this stage, when known. */
  readonly total?: number;
}

/** A log line, an ended span or a progress update. */
export type TelemetryRecord = LogRecord | SpanRecord | ProgressRecord;

/** One producer's counts at stop. */
export interface ProducerSummary {
  /** The name given when it was made. */
  readonly name: string;
  /** Events, records and histogram values sent. */
  readonly sent: number;
  /** Of those, handled by every sink. */
  readonly handled: number;
  /** Refused after stop or at the queue bound. */
  readonly dropped: number;
}

/** What `close()` learns about the run. */
export interface RunSummary {
  /** Epoch milliseconds. */
  readonly startTime: number;
  /** Epoch milliseconds, when the stop began. */
  readonly endTime: number;
  /** Counts per producer, the main thread first. */
  readonly producers: readonly ProducerSummary[];
  /**
   * Epoch milliseconds by which `close()` should have finished: the stop's time budget (a part of `stopTimeout`,
   * or of `exitTimeout` when the process is exiting). A sink that waits on something (the network) gives up by
   * then and throws an error saying what was lost, so the loss is reported instead of cut off.
   */
  readonly deadline: number;
  /** Errors per sink so far (this sink's `close()` error, if any, is not in it yet). */
  readonly sinks: ReadonlyArray<
    { readonly name: string; readonly errors: number; readonly firstError?: string }
  >;
}

/**
 * A destination for telemetry. It runs inside the sidecar; each method may return a promise, which the sidecar
 * awaits before it hands over anything else and before it answers `flush()` or `stop()`. A throw or rejection is
 * counted as an error of this sink; later calls still come.
 */
export interface Sink {
  /** Handles one batch of events. */
  handle?(batch: EventBatch): void | Promise<void>;
  /** Handles log lines, ended spans and progress updates, in the order one producer sent them. */
  records?(records: readonly TelemetryRecord[]): void | Promise<void>;
  /**
   * Receives every metric series: every `metricsInterval` while the run goes, at each `flush()`, and once more at
   * stop (`final: true`).
   */
  metrics?(snapshot: MetricsSnapshot): void | Promise<void>;
  /** Called by `flush()`, after everything earlier was handled. */
  flush?(): void | Promise<void>;
  /**
   * Called once at stop, after the final metrics: finishes what `flush()` would and releases everything, within
   * `summary.deadline`. Sinks close side by side, so `summary.sinks` does not hold the errors of the other sinks'
   * `close()`. A sink without `close()` gets a last `flush()` instead.
   */
  close?(summary: RunSummary): void | Promise<void>;
}

/**
 * What a custom sink module exports: a function that builds the sink inside the sidecar from the cloneable
 * `options` given to `startTelemetry()`.
 */
export type SinkFactory = (options: unknown) => Sink | Promise<Sink>;
