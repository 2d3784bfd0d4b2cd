// The OTLP JSON encoders, checked against the OpenTelemetry JS transformer for the same data and against the
// official example bodies of the OTLP specification.
import { describe, test } from "node:test";
import { existsSync, readFileSync } from "node:fs";
import { assert, assertEquals } from "@std/assert";
import { type HrTime, SeverityNumber, SpanKind, SpanStatusCode, ValueType } from "@opentelemetry/api";
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
} from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { AggregationTemporality, DataPointType, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import {
  encodeAnyValue,
  encodeLogs,
  encodeMetrics,
  encodeResource,
  encodeSpans,
  nanos,
  SCOPE_NAME,
  SCOPE_VERSION,
} from "../src/sinks/_otlp_json.ts";
import type { LogRecord, MetricsSnapshot, SpanRecord } from "../src/sinks/sink.ts";

const RESOURCE = { "service.name": "fit", "deployment.environment.name": "test", "host.cores": 2 };
const SCOPE = { name: SCOPE_NAME, version: SCOPE_VERSION };
const PRODUCER = { id: 1, name: "worker-1" };
// Fields of every AnyValue kind the sink sends; doubles with exact binary fractions so both sides print alike.
const FIELDS = {
  "string.attribute": "some string",
  "boolean.attribute": true,
  "int.attribute": 10,
  "negative.attribute": -3,
  "large.attribute": 2 ** 53 + 2,
  "double.attribute": 637.704,
  "array.attribute": ["many", "values"],
  "map.attribute": { "some.map.key": "some value", depth: { n: 1.5 } },
};
// 2023-11-14T22:13:20.123250Z: a fraction that binary floating point holds exactly.
const T0 = 1_700_000_000_123.25;

/** Epoch milliseconds as the SDK's [seconds, nanoseconds]. */
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/**
 * Proto3 JSON lets an int64 be a number or a string; the transformer writes numbers, the specification's examples
 * (and this sink) strings. Turns the transformer's into strings so the bodies compare field by field.
 */
function int64AsStrings(value: unknown, key = ""): unknown {
  const INT64 = ["intValue", "asInt", "count", "bucketCounts", "zeroCount"];
  if (Array.isArray(value)) return value.map((item) => int64AsStrings(item, key));
  if (typeof value === "number" && INT64.includes(key)) return String(value);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, int64AsStrings(v, k)]));
}

function reference(bytes: Uint8Array | undefined): unknown {
  assert(bytes !== undefined, "the transformer serialized the request");
  return int64AsStrings(JSON.parse(new TextDecoder().decode(bytes)));
}

/** Ours through JSON, as the receiver sees it. */
function sent(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body));
}

describe("OTLP JSON encoding matches the OpenTelemetry JS transformer", () => {
  const resource = resourceFromAttributes(RESOURCE);

  test("log records: times in nanoseconds, severity, body and every attribute type", () => {
    const levels = [
      ["trace", SeverityNumber.TRACE, "TRACE"],
      ["debug", SeverityNumber.DEBUG, "DEBUG"],
      ["info", SeverityNumber.INFO, "INFO"],
      ["warn", SeverityNumber.WARN, "WARN"],
      ["error", SeverityNumber.ERROR, "ERROR"],
      ["fatal", SeverityNumber.FATAL, "FATAL"],
    ] as const;
    const ours: LogRecord[] = levels.map(([level], i) => ({
      type: "log",
      producer: PRODUCER,
      time: T0 + i * 1000.5,
      level,
      message: `message ${i}`,
      fields: FIELDS,
    }));
    const theirs: ReadableLogRecord[] = levels.map(([, severityNumber, severityText], i) => ({
      hrTime: hrTime(T0 + i * 1000.5),
      hrTimeObserved: hrTime(T0 + i * 1000.5),
      severityNumber,
      severityText,
      body: `message ${i}`,
      resource,
      instrumentationScope: SCOPE,
      attributes: { ...FIELDS, "thread.name": "worker-1" },
      droppedAttributesCount: 0,
    }));
    assertEquals(
      sent(encodeLogs(ours, encodeResource(RESOURCE))),
      reference(JsonLogsSerializer.serializeRequest(theirs)),
    );
  });

  test("spans: hex ids, kind INTERNAL, times, attributes, error status with its message", () => {
    const traceId = "5b8efff798038103d269b633813fc60c";
    const ours: SpanRecord[] = [
      {
        type: "span",
        producer: PRODUCER,
        name: "load",
        traceId,
        spanId: "eee19b7ec3c1b173",
        startTime: T0,
        endTime: T0 + 2500.5,
        attributes: {},
        status: "unset",
      },
      {
        type: "span",
        producer: PRODUCER,
        name: "parse",
        traceId,
        spanId: "eee19b7ec3c1b174",
        parentSpanId: "eee19b7ec3c1b173",
        startTime: T0 + 10.25,
        endTime: T0 + 20.75,
        attributes: FIELDS,
        status: "error",
        statusMessage: "bad row 12",
      },
    ];
    const theirs = ours.map((span): ReadableSpan => ({
      name: span.name,
      kind: SpanKind.INTERNAL,
      spanContext: () => ({ traceId, spanId: span.spanId, traceFlags: 1 }),
      ...(span.parentSpanId === undefined
        ? {}
        : { parentSpanContext: { traceId, spanId: span.parentSpanId, traceFlags: 1, isRemote: false } }),
      startTime: hrTime(span.startTime),
      endTime: hrTime(span.endTime),
      status: span.status === "error"
        ? { code: SpanStatusCode.ERROR, message: span.statusMessage! }
        : { code: SpanStatusCode.UNSET },
      attributes: { ...span.attributes, "thread.name": "worker-1" },
      links: [],
      events: [],
      duration: hrTime(span.endTime - span.startTime),
      ended: true,
      resource,
      instrumentationScope: SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    }));
    assertEquals(
      sent(encodeSpans(ours, encodeResource(RESOURCE))),
      reference(JsonTraceSerializer.serializeRequest(theirs)),
    );
  });

  test("metrics: counter as cumulative monotonic sum, gauge, explicit-bucket histogram, labels as attributes", () => {
    const base = { unit: "", description: "" };
    const snapshot: MetricsSnapshot = {
      startTime: T0,
      time: T0 + 60_000.5,
      final: false,
      series: [
        { ...base, kind: "counter", name: "rows", labels: { stage: "load" }, value: 1234 },
        {
          ...base,
          kind: "gauge",
          name: "loss",
          labels: {},
          value: 0.25,
          unit: "1",
          description: "training loss",
        },
        { ...base, kind: "counter", name: "rows", labels: { stage: "fit" }, value: 0.5 },
        {
          ...base,
          kind: "histogram",
          name: "step",
          unit: "ms",
          labels: { worker: "w0" },
          count: 3,
          sum: 15,
          min: 2,
          max: 8,
          bounds: [1, 5, 10],
          counts: [0, 2, 1, 0],
          p50: 5,
          p90: 8,
          p99: 8,
        },
        {
          ...base,
          kind: "histogram",
          name: "step",
          unit: "ms",
          labels: { worker: "w1" },
          count: 0,
          sum: 0,
          min: NaN,
          max: NaN,
          bounds: [1, 5, 10],
          counts: [0, 0, 0, 0],
          p50: NaN,
          p90: NaN,
          p99: NaN,
        },
      ],
    };
    const times = { startTime: hrTime(snapshot.startTime), endTime: hrTime(snapshot.time) };
    const temporality = AggregationTemporality.CUMULATIVE;
    const theirs: ResourceMetrics = {
      resource,
      scopeMetrics: [{
        scope: SCOPE,
        metrics: [
          {
            descriptor: { name: "rows", description: "", unit: "", valueType: ValueType.DOUBLE },
            aggregationTemporality: temporality,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: [
              { ...times, attributes: { stage: "load" }, value: 1234 },
              { ...times, attributes: { stage: "fit" }, value: 0.5 },
            ],
          },
          {
            descriptor: {
              name: "loss",
              description: "training loss",
              unit: "1",
              valueType: ValueType.DOUBLE,
            },
            aggregationTemporality: temporality,
            dataPointType: DataPointType.GAUGE,
            dataPoints: [{ ...times, attributes: {}, value: 0.25 }],
          },
          {
            descriptor: { name: "step", description: "", unit: "ms", valueType: ValueType.DOUBLE },
            aggregationTemporality: temporality,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: [
              {
                ...times,
                attributes: { worker: "w0" },
                value: {
                  buckets: { boundaries: [1, 5, 10], counts: [0, 2, 1, 0] },
                  sum: 15,
                  count: 3,
                  min: 2,
                  max: 8,
                },
              },
              {
                ...times,
                attributes: { worker: "w1" },
                value: { buckets: { boundaries: [1, 5, 10], counts: [0, 0, 0, 0] }, sum: 0, count: 0 },
              },
            ],
          },
        ],
      }],
    };
    assertEquals(
      sent(encodeMetrics(snapshot, encodeResource(RESOURCE))),
      reference(JsonMetricsSerializer.serializeRequest(theirs)),
    );
  });
});

describe("OTLP JSON encoding details", () => {
  test("times keep sub-millisecond digits as whole nanoseconds", () => {
    assertEquals(nanos(1_544_712_660_300), "1544712660300000000");
    assertEquals(nanos(T0), "1700000000123250000");
    assertEquals(nanos(1_700_000_000_123.000_5), "1700000000123000488"); // the nearest double, as it is
    assertEquals(nanos(0), "0");
    assertEquals(nanos(NaN), "0");
  });

  test("values JSON cannot hold stay valid: non-finite doubles as strings, big integers as digits", () => {
    assertEquals(encodeAnyValue(NaN), { doubleValue: "NaN" });
    assertEquals(encodeAnyValue(-Infinity), { doubleValue: "-Infinity" });
    assertEquals(encodeAnyValue(2 ** 60), { intValue: "1152921504606846976" });
    assertEquals(encodeAnyValue(1e300), { doubleValue: 1e300 });
    assertEquals(encodeAnyValue(12n), { intValue: "12" });
    assertEquals(encodeAnyValue(2n ** 64n), { stringValue: "18446744073709551616" });
    assertEquals(encodeAnyValue(null), {});
    assertEquals(encodeAnyValue(new Uint8Array([104, 105])), { bytesValue: "aGk=" });
    assertEquals(encodeAnyValue(new Date(0)), { stringValue: "1970-01-01T00:00:00.000Z" });
    assertEquals(encodeAnyValue(new Set(["a"])), { arrayValue: { values: [{ stringValue: "a" }] } });
    assertEquals(encodeAnyValue(new Map([[1, "x"]])), {
      kvlistValue: { values: [{ key: "1", value: { stringValue: "x" } }] },
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assertEquals(encodeAnyValue(cyclic), {
      kvlistValue: { values: [{ key: "self", value: { stringValue: "[Circular]" } }] },
    });
  });

  test("a logged field named thread.name wins over the producer's name", () => {
    const record: LogRecord = {
      type: "log",
      producer: PRODUCER,
      time: T0,
      level: "info",
      message: "m",
      fields: { "thread.name": "mine" },
    };
    const body = encodeLogs([record], encodeResource({}));
    assertEquals(body.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.attributes, [
      { key: "thread.name", value: { stringValue: "mine" } },
    ]);
  });

  test("the scope version is the package version", () => {
    // From the sources, deno.json; in the npm build (tests under npm/), the package.json written from it.
    const deno = new URL("../deno.json", import.meta.url);
    const config = JSON.parse(
      readFileSync(existsSync(deno) ? deno : new URL("../package.json", import.meta.url), "utf8"),
    );
    assertEquals(SCOPE_VERSION, config.version);
    assertEquals(SCOPE_NAME, config.name);
  });
});

/** Every field path of a JSON value (array items merged as `[]`) with its JSON type. */
function paths(value: unknown, at = "", out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    for (const item of value) paths(item, `${at}[]`, out);
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) paths(item, `${at}.${key}`, out);
  } else {
    out.set(at, value === null ? "null" : typeof value);
  }
  return out;
}

// The examples live in the workspace's shared/ folder, beside the checkout or a few levels above it.
const EXAMPLES = [1, 2, 3, 4].map((up) =>
  new URL(`${"../".repeat(up)}shared/data/otlp-examples/`, import.meta.url)
)
  .find((dir) => existsSync(dir));
const SKIP = EXAMPLES === undefined ? "no shared/data/otlp-examples/ above this checkout" : false;

function example(name: string): unknown {
  return JSON.parse(readFileSync(new URL(name, EXAMPLES), "utf8"));
}

/**
 * Every field of an official example that the sink also writes has the same JSON type in ours (ids and 64-bit
 * integers as strings, enums as numbers), and every field of the example is in ours unless listed as not sent.
 */
function assertSameShape(ours: unknown, official: unknown, notSent: readonly string[]): void {
  const mine = paths(ours);
  const theirs = paths(official);
  for (const [path, type] of theirs) {
    if (notSent.some((prefix) => path.startsWith(prefix))) continue;
    assertEquals(mine.get(path), type, `${path} in our body, as a ${type}`);
  }
}

describe("OTLP JSON encoding has the shape of the specification's examples", () => {
  const resource = encodeResource({ "service.name": "my.service" });
  // The examples give their scope attributes; this sink's scope has none.
  const scopeAttributes = (signal: string) => `.${signal}[].scope${signal.slice(8)}[].scope.attributes`;

  test("logs.json", { skip: SKIP }, () => {
    const record: LogRecord = {
      type: "log",
      producer: PRODUCER,
      time: 1_544_712_660_300,
      level: "info",
      message: "Example log record",
      fields: FIELDS,
    };
    // A log line is not inside a span here, so it has no trace or span id.
    const logRecord = ".resourceLogs[].scopeLogs[].logRecords[]";
    assertSameShape(encodeLogs([record], resource), example("logs.json"), [
      scopeAttributes("resourceLogs"),
      `${logRecord}.traceId`,
      `${logRecord}.spanId`,
    ]);
  });

  test("trace.json", { skip: SKIP }, () => {
    const span: SpanRecord = {
      type: "span",
      producer: PRODUCER,
      name: "I'm a server span",
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      parentSpanId: "eee19b7ec3c1b173",
      startTime: 1_544_712_660_000,
      endTime: 1_544_712_661_000,
      attributes: { "my.span.attr": "some value" },
      status: "unset",
    };
    assertSameShape(encodeSpans([span], resource), example("trace.json"), [scopeAttributes("resourceSpans")]);
  });

  test("metrics.json", { skip: SKIP }, () => {
    const snapshot: MetricsSnapshot = {
      startTime: 1_544_712_660_300,
      time: 1_544_712_660_300,
      final: true,
      series: [
        { kind: "counter", name: "my.counter", unit: "1", description: "", labels: { a: "b" }, value: 5 },
        { kind: "gauge", name: "my.gauge", unit: "1", description: "", labels: { a: "b" }, value: 10 },
        {
          kind: "histogram",
          name: "my.histogram",
          unit: "1",
          description: "",
          labels: { a: "b" },
          count: 2,
          sum: 2,
          min: 0,
          max: 2,
          bounds: [1],
          counts: [1, 1],
          p50: 0,
          p90: 2,
          p99: 2,
        },
      ],
    };
    // Histograms here have explicit buckets, never exponential ones.
    assertSameShape(encodeMetrics(snapshot, resource), example("metrics.json"), [
      scopeAttributes("resourceMetrics"),
      ".resourceMetrics[].scopeMetrics[].metrics[].exponentialHistogram",
    ]);
  });
});
