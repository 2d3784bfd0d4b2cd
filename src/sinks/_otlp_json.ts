/**
 * Encoders from the sink data types to OTLP/HTTP request bodies in the JSON encoding: trace and span ids as hex
 * strings, 64-bit integers and nanosecond timestamps as decimal strings, enums as numbers, attributes as typed
 * `{ key, value }` pairs. Pure functions: the caller sends the result with `JSON.stringify`.
 *
 * @module
 */

import type { LogLevel, LogRecord, MetricSeries, MetricsSnapshot, SpanRecord } from "./sink.ts";

/** Name of the instrumentation scope on every export: this library. */
export const SCOPE_NAME = "@sidecar/telemetry";
/** Version of the instrumentation scope; kept equal to the package version (a test checks it). */
export const SCOPE_VERSION = "0.1.0";

/** An OTLP `AnyValue`: exactly one of its fields, or none for an empty value (`null`, `undefined`). */
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  /** int64 as decimal digits. */
  intValue?: string;
  /** A number, or `"NaN"`, `"Infinity"`, `"-Infinity"`. */
  doubleValue?: number | string;
  /** Base64. */
  bytesValue?: string;
  arrayValue?: { values: AnyValue[] };
  kvlistValue?: { values: KeyValue[] };
}

/** An OTLP attribute. */
export interface KeyValue {
  key: string;
  value: AnyValue;
}

/** The OTLP `Resource` sent with every request. */
export interface OtlpResource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

/** The OTLP `InstrumentationScope` sent with every request. */
export interface OtlpScope {
  name: string;
  version: string;
}

/** Body of a POST to `/v1/logs`. */
export interface ExportLogsServiceRequest {
  resourceLogs: Array<{
    resource: OtlpResource;
    scopeLogs: Array<{ scope: OtlpScope; logRecords: OtlpLogRecord[] }>;
  }>;
}

/** One OTLP log record. */
export interface OtlpLogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

/** Body of a POST to `/v1/traces`. */
export interface ExportTraceServiceRequest {
  resourceSpans: Array<{
    resource: OtlpResource;
    scopeSpans: Array<{ scope: OtlpScope; spans: OtlpSpan[] }>;
  }>;
}

/** One OTLP span. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: never[];
  droppedEventsCount: number;
  status: { code: number; message?: string };
  links: never[];
  droppedLinksCount: number;
  flags: number;
}

/** Body of a POST to `/v1/metrics`. */
export interface ExportMetricsServiceRequest {
  resourceMetrics: Array<{
    resource: OtlpResource;
    scopeMetrics: Array<{ scope: OtlpScope; metrics: OtlpMetric[] }>;
  }>;
}

/** One OTLP metric: a name with the data points of each of its label sets. */
export interface OtlpMetric {
  name: string;
  description: string;
  unit: string;
  sum?: { aggregationTemporality: number; isMonotonic: boolean; dataPoints: NumberDataPoint[] };
  gauge?: { dataPoints: NumberDataPoint[] };
  histogram?: { aggregationTemporality: number; dataPoints: HistogramDataPoint[] };
}

/** A counter's or gauge's value at one time. */
export interface NumberDataPoint {
  attributes: KeyValue[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  asDouble: number | string;
}

/** A histogram's buckets at one time. */
export interface HistogramDataPoint {
  attributes: KeyValue[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  /** uint64 as decimal digits. */
  count: string;
  sum: number | string;
  /** Absent while `count` is 0. */
  min?: number | string;
  max?: number | string;
  /** uint64 per bucket as decimal digits, not cumulative; one more than `explicitBounds`. */
  bucketCounts: string[];
  explicitBounds: number[];
}

// The OTel log data model's numbers for the first severity of each range, and its short names.
const SEVERITY: Readonly<Record<LogLevel, readonly [number, string]>> = {
  trace: [1, "TRACE"],
  debug: [5, "DEBUG"],
  info: [9, "INFO"],
  warn: [13, "WARN"],
  error: [17, "ERROR"],
  fatal: [21, "FATAL"],
};

const CUMULATIVE = 2;
const SPAN_KIND_INTERNAL = 1;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;
// W3C "sampled" (every span that ends is exported) plus OTLP's "is-remote is known" bit: the parent is local.
const SPAN_FLAGS = 0x01 | 0x100;
// The attribute naming the producer (thread) a log line or span came from, per the OTel semantic conventions.
const THREAD_NAME = "thread.name";
const MAX_DEPTH = 64;
const INT64_LIMIT = 2n ** 63n;

/**
 * The OTLP resource for a set of resource attributes.
 *
 * @param attributes Resource attributes such as `service.name`.
 * @returns The resource, to pass to the encoders.
 */
export function encodeResource(attributes: Readonly<Record<string, unknown>>): OtlpResource {
  return { attributes: encodeAttributes(attributes), droppedAttributesCount: 0 };
}

/**
 * Encodes log records as an `ExportLogsServiceRequest`. The producer's name becomes the `thread.name` attribute
 * unless a field of that name was logged.
 *
 * @param records The log lines, in order.
 * @param resource From `encodeResource()`.
 * @returns The request body.
 */
export function encodeLogs(records: readonly LogRecord[], resource: OtlpResource): ExportLogsServiceRequest {
  const logRecords = records.map((record): OtlpLogRecord => {
    const [severityNumber, severityText] = SEVERITY[record.level] ?? SEVERITY.info;
    const time = nanos(record.time);
    return {
      timeUnixNano: time,
      observedTimeUnixNano: time,
      severityNumber,
      severityText,
      body: { stringValue: record.message },
      attributes: withThread(record.fields, record.producer.name),
      droppedAttributesCount: 0,
    };
  });
  return { resourceLogs: [{ resource, scopeLogs: [{ scope: scope(), logRecords }] }] };
}

/**
 * Encodes ended spans as an `ExportTraceServiceRequest`: kind `INTERNAL`, status `ERROR` with its message for a
 * span that ended with an error, the producer's name as the `thread.name` attribute.
 *
 * @param records The spans, in order.
 * @param resource From `encodeResource()`.
 * @returns The request body.
 */
export function encodeSpans(
  records: readonly SpanRecord[],
  resource: OtlpResource,
): ExportTraceServiceRequest {
  const spans = records.map((record): OtlpSpan => {
    const span: OtlpSpan = {
      traceId: record.traceId,
      spanId: record.spanId,
      name: record.name,
      kind: SPAN_KIND_INTERNAL,
      startTimeUnixNano: nanos(record.startTime),
      endTimeUnixNano: nanos(record.endTime),
      attributes: withThread(record.attributes, record.producer.name),
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      status: record.status === "error"
        ? { code: STATUS_ERROR, message: record.statusMessage ?? "" }
        : { code: STATUS_UNSET },
      links: [],
      droppedLinksCount: 0,
      flags: SPAN_FLAGS,
    };
    if (record.parentSpanId !== undefined) span.parentSpanId = record.parentSpanId;
    return span;
  });
  return { resourceSpans: [{ resource, scopeSpans: [{ scope: scope(), spans }] }] };
}

/**
 * Encodes a metrics snapshot as an `ExportMetricsServiceRequest`, cumulative from the snapshot's `startTime` to its
 * `time`: a counter as a monotonic sum, a gauge as a gauge, a histogram as an explicit-bucket histogram. Series of
 * one name become the data points of one metric, each with its labels as attributes.
 *
 * @param snapshot Every series at one moment.
 * @param resource From `encodeResource()`.
 * @returns The request body.
 */
export function encodeMetrics(
  snapshot: MetricsSnapshot,
  resource: OtlpResource,
): ExportMetricsServiceRequest {
  const start = nanos(snapshot.startTime);
  const time = nanos(snapshot.time);
  const byName = new Map<string, OtlpMetric>();
  for (const series of snapshot.series) {
    const key = `${series.kind}\u0000${series.name}`;
    let metric = byName.get(key);
    if (metric === undefined) {
      metric = newMetric(series);
      byName.set(key, metric);
    }
    const attributes = encodeAttributes(series.labels);
    if (series.kind === "histogram") {
      const point: HistogramDataPoint = {
        attributes,
        startTimeUnixNano: start,
        timeUnixNano: time,
        count: integerString(series.count),
        sum: double(series.sum),
        bucketCounts: series.counts.map(integerString),
        explicitBounds: [...series.bounds],
      };
      if (series.count > 0) {
        point.min = double(series.min);
        point.max = double(series.max);
      }
      metric.histogram!.dataPoints.push(point);
    } else {
      const point = {
        attributes,
        startTimeUnixNano: start,
        timeUnixNano: time,
        asDouble: double(series.value),
      };
      (series.kind === "counter" ? metric.sum! : metric.gauge!).dataPoints.push(point);
    }
  }
  return {
    resourceMetrics: [{ resource, scopeMetrics: [{ scope: scope(), metrics: [...byName.values()] }] }],
  };
}

function newMetric(series: MetricSeries): OtlpMetric {
  const metric: OtlpMetric = { name: series.name, description: series.description, unit: series.unit };
  if (series.kind === "counter") {
    metric.sum = { aggregationTemporality: CUMULATIVE, isMonotonic: true, dataPoints: [] };
  } else if (series.kind === "gauge") {
    metric.gauge = { dataPoints: [] };
  } else {
    metric.histogram = { aggregationTemporality: CUMULATIVE, dataPoints: [] };
  }
  return metric;
}

function scope(): OtlpScope {
  return { name: SCOPE_NAME, version: SCOPE_VERSION };
}

function withThread(fields: Readonly<Record<string, unknown>>, thread: string): KeyValue[] {
  const attributes = encodeAttributes(fields);
  if (!Object.hasOwn(fields, THREAD_NAME)) {
    attributes.push({ key: THREAD_NAME, value: { stringValue: thread } });
  }
  return attributes;
}

/**
 * Epoch milliseconds (fractional) as OTLP's nanoseconds since the epoch, in decimal digits.
 *
 * @param ms Epoch milliseconds; anything not finite or negative gives `"0"`.
 * @returns The nanoseconds, rounded to the nearest.
 */
export function nanos(ms: number): string {
  if (!(ms >= 0) || !Number.isFinite(ms)) return "0";
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6))).toString();
}

/**
 * Record fields or labels as OTLP attributes, in their key order.
 *
 * @param fields Names to values of any kind; see `encodeAnyValue()`.
 * @returns The attributes.
 */
export function encodeAttributes(fields: Readonly<Record<string, unknown>>): KeyValue[] {
  return Object.keys(fields).map((key) => ({ key, value: encodeAnyValue(fields[key]) }));
}

/**
 * A value as an OTLP `AnyValue`: a string, boolean, integer (up to 64 bits, as `intValue` digits), other number
 * (`doubleValue`), array or `Set` (`arrayValue`), object or `Map` (`kvlistValue`), `Uint8Array` or `ArrayBuffer`
 * (`bytesValue`, base64); other typed arrays as arrays of numbers; a `Date` as its ISO string; `null` and
 * `undefined` as the empty value; a value met again inside itself as `"[Circular]"`.
 *
 * @param value Any value, as a record carries it.
 * @returns The `AnyValue`.
 */
export function encodeAnyValue(value: unknown): AnyValue {
  return anyValue(value, [], 0);
}

function anyValue(value: unknown, path: object[], depth: number): AnyValue {
  switch (typeof value) {
    case "string":
      return { stringValue: value };
    case "boolean":
      return { boolValue: value };
    case "number":
      return Number.isInteger(value) && Math.abs(value) < 2 ** 63
        ? { intValue: BigInt(value).toString() }
        : { doubleValue: double(value) };
    case "bigint":
      return value >= -INT64_LIMIT && value < INT64_LIMIT
        ? { intValue: value.toString() }
        : { stringValue: value.toString() };
    case "undefined":
      return {};
    case "object":
      if (value === null) return {};
      return objectValue(value, path, depth);
    default:
      return { stringValue: String(value) };
  }
}

function objectValue(value: object, path: object[], depth: number): AnyValue {
  if (path.includes(value)) return { stringValue: "[Circular]" };
  if (depth >= MAX_DEPTH) return { stringValue: "[Too deep]" };
  if (value instanceof Date) {
    return { stringValue: Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString() };
  }
  if (value instanceof RegExp) return { stringValue: String(value) };
  if (value instanceof Uint8Array) return { bytesValue: base64(value) };
  if (value instanceof ArrayBuffer) return { bytesValue: base64(new Uint8Array(value)) };
  if (value instanceof DataView) {
    return { bytesValue: base64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  path.push(value);
  try {
    if (Array.isArray(value) || value instanceof Set || ArrayBuffer.isView(value)) {
      const items = Array.from(value as Iterable<unknown>, (item) => anyValue(item, path, depth + 1));
      return { arrayValue: { values: items } };
    }
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    const values = entries.map(([key, item]): KeyValue => ({
      key: String(key),
      value: anyValue(item, path, depth + 1),
    }));
    return { kvlistValue: { values } };
  } finally {
    path.pop();
  }
}

function double(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function integerString(value: number): string {
  return Number.isFinite(value) ? BigInt(Math.round(value)).toString() : "0";
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
