/**
 * A telemetry sidecar for long computations: events, counts and timings leave the computing thread in batches and
 * are handled by sinks in a dedicated worker, so the computation barely pays for them. `stop()` resolves only once
 * every event sent before it was handled.
 *
 * @example Count, time and report progress from a loop
 * ```ts
 * import { startTelemetry } from "@sidecar/telemetry";
 *
 * const telemetry = await startTelemetry({ sinks: [] });
 * const rows = telemetry.counter("rows");
 * const stepMs = telemetry.timer("step_ms");
 * for (let step = 1; step <= 10; step++) {
 *   const done = stepMs.start();
 *   rows.add(100);
 *   done();
 *   telemetry.progress(step, 10, "fit");
 * }
 * await telemetry.stop();
 * ```
 *
 * @example Report from a loop
 * ```ts
 * import { startTelemetry } from "@sidecar/telemetry";
 *
 * const telemetry = await startTelemetry({ sinks: [] });
 * for (let step = 0; step < 1000; step++) telemetry.event({ step, loss: 1 / (step + 1) });
 * const report = await telemetry.stop();
 * console.assert(report.handled === 1000);
 * ```
 *
 * @module
 */
export { startTelemetry, stopTelemetry, Telemetry } from "./src/producer/telemetry.ts";
export type { StopOptions, TelemetryStats } from "./src/producer/telemetry.ts";
export { attachTelemetry } from "./src/producer/attach.ts";
export type { TelemetryProducer } from "./src/producer/attach.ts";
export type { SinkOption, TelemetryOptions } from "./src/producer/options.ts";
export type { OverflowPolicy, Port, ProducerReport, SinkReport, StopReport } from "./src/protocol.ts";
export type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  Instruments,
  MetricLabels,
  MetricOptions,
  Span,
  SpanContext,
  Timer,
} from "./src/producer/instruments.ts";
export type {
  CounterSeries,
  EventBatch,
  GaugeSeries,
  HistogramSeries,
  Labels,
  LogLevel,
  LogRecord,
  MetricSeries,
  MetricsSnapshot,
  ProducerMeta,
  ProducerSummary,
  ProgressRecord,
  RunSummary,
  SeriesBase,
  Sink,
  SinkFactory,
  SpanRecord,
  TelemetryRecord,
} from "./src/sinks/sink.ts";
export type { OtlpAttributeValue, OtlpSinkOptions } from "./src/sinks/otlp.ts";
