import {
  createTerminalShare,
  type OverflowPolicy,
  type ProducerConfig,
  type PushgatewaySpec,
  type SinkSpec,
} from "../protocol.ts";
import { type OtlpSinkOptions, resolveOtlpOptions } from "../sinks/_otlp_options.ts";
import { terminalSize } from "../runtime/tty.ts";
import { describe } from "../_text.ts";

/** A sink to run in the sidecar. `"console"` is short for `{ kind: "console" }`. */
export type SinkOption =
  | "console"
  | { readonly kind: "console" }
  | {
    readonly kind: "ndjson";
    /** File to write, created or truncated at start. */
    readonly path: string;
  }
  | {
    readonly kind: "report";
    /** HTML file to write when telemetry stops; created (with a note that the run is going) at start. */
    readonly path: string;
    /** Heading and page title of the report. Default `"Telemetry report"`. */
    readonly title?: string;
    /** How many of the slowest spans the report lists. Integer from 0 to 1000; default 20. */
    readonly slowestSpans?: number;
  }
  | {
    readonly kind: "custom";
    /** Absolute URL of the module, for example `new URL("./my_sink.ts", import.meta.url)`. */
    readonly module: URL | string;
    /** The module's export that builds the sink (a `SinkFactory`). Default `"createSink"`. */
    readonly export?: string;
    /** Structured-cloneable options passed to the factory. */
    readonly options?: unknown;
  }
  | ({
    /** Exports log records, spans and metrics over OTLP/HTTP (JSON) to an OpenTelemetry receiver. */
    readonly kind: "otlp";
  } & OtlpSinkOptions)
  | {
    readonly kind: "pushgateway";
    /** Base URL of the Prometheus Pushgateway, `http:` or `https:`, for example `"http://localhost:9091"`. */
    readonly url: string;
    /** The `job` label of the group the run's metrics are pushed to. */
    readonly job: string;
    /**
     * More labels of the group, such as `{ instance: "node-7" }`: a run replaces only the metrics of its own
     * group. Names like Prometheus label names, other than `job`. Default none.
     */
    readonly grouping?: Readonly<Record<string, string>>;
    /** Labels added to every series that has no label of that name. Default none. */
    readonly labels?: Readonly<Record<string, string>>;
    /** Milliseconds between pushes while the run goes; the final metrics are pushed at stop. Default 10,000. */
    readonly interval?: number;
    /** Milliseconds one request may take before it is abandoned (and tried again). Default 5,000. */
    readonly timeout?: number;
    /**
     * Times a push is tried again after no answer, a timeout or a 5xx, 408 or 429 answer, waiting 100 ms, then
     * 200 ms, 400 ms, ... Integer from 0 to 10; default 3.
     */
    readonly retries?: number;
  }
  | {
    /** Progress bars on stderr, from `telemetry.progress()`: a block redrawn in place, or plain lines in logs. */
    readonly kind: "progress";
    /**
     * `"tty"` redraws the block in place; `"plain"` prints lines with no escape codes; `"auto"` (default) picks
     * `"tty"` when stderr is a terminal.
     */
    readonly mode?: "auto" | "tty" | "plain";
    /** Plain mode: milliseconds between lines of one label, which also gets a line at every 10% step. Default 5,000. */
    readonly plainInterval?: number;
    /** Width of the bars' lines in columns. Default: the terminal's width when stderr is one, else 80. */
    readonly columns?: number;
  };

/** Options of `startTelemetry()`. */
export interface TelemetryOptions {
  /** Where events go. Default `["console"]`; an empty list handles events without output. */
  readonly sinks?: readonly SinkOption[];
  /** Events buffered on a thread before a batch is posted. Integer from 1 to 1,048,576; default 8192. */
  readonly batchSize?: number;
  /**
   * Events a thread may have sent but the sidecar not yet handled; then `overflow` applies. Bounds memory when the
   * sinks are slower than the computation. Integer from 1 to 2^30; default 1,048,576.
   */
  readonly maxQueued?: number;
  /**
   * At `maxQueued`: `"drop"` (default) refuses the new event and counts it in `dropped`, with one warning line on
   * stderr; `"block"` makes the sender wait (`Atomics.wait`) until the sidecar catches up. A thread that may not
   * block (a browser's main thread), or a sidecar that handles nothing for a second, falls back to dropping.
   */
  readonly overflow?: OverflowPolicy;
  /**
   * Strings longer than this many characters are cut on the sending thread, ending in a marker
   * `…[truncated: N of M characters cut]`, and counted in `truncated`. Default 1,048,576.
   */
  readonly maxEventBytes?: number;
  /** Milliseconds to wait for the sidecar to report ready. Default 10,000. */
  readonly startTimeout?: number;
  /** Milliseconds `stop()` waits for the sidecar's answer before it terminates it. Default 10,000. */
  readonly stopTimeout?: number;
  /**
   * Milliseconds the process waits, as it exits without `stop()` (`process.exit`, the program's end, an uncaught
   * error, SIGINT/SIGTERM), for the sidecar to handle what was sent. Default 2,000.
   */
  readonly exitTimeout?: number;
  /**
   * Drain on SIGINT/SIGTERM, then exit with 130/143 (unless the program listens for the signal itself). A signal
   * that arrives while the main thread runs a long synchronous stretch is acted on when the stretch ends; `false`
   * keeps the runtime's immediate default, and events still buffered on that thread are then lost. On Deno, a
   * program that handles signals with `Deno.addSignalListener` passes `false`. Default `true`.
   */
  readonly handleSignals?: boolean;
  /** Milliseconds between the metric snapshots the sidecar hands to sinks while the run goes. Default 1,000. */
  readonly metricsInterval?: number;
  /**
   * Distinct label sets per metric name; past it, updates go to one overflow series labelled
   * `otel.metric.overflow="true"` and one warning line is printed. Integer from 1 to 1,000,000; default 1,000.
   */
  readonly maxLabelSets?: number;
  /** The sidecar's module URL, for bundlers that move it. Default: the worker file shipped beside this module. */
  readonly workerUrl?: URL | string;
}

/** The options of each sink kind, besides `kind` (OTLP checks its own). */
const SINK_KEYS: Readonly<Record<string, readonly string[]>> = {
  console: [],
  ndjson: ["path"],
  custom: ["module", "export", "options"],
  report: ["path", "title", "slowestSpans"],
  pushgateway: ["url", "job", "grouping", "labels", "interval", "timeout", "retries"],
  progress: ["mode", "plainInterval", "columns"],
};

const SINK_KINDS = `"console", "ndjson", "progress", "report", "pushgateway", "otlp" or "custom"`;

const KNOWN = [
  "sinks",
  "batchSize",
  "maxQueued",
  "overflow",
  "maxEventBytes",
  "startTimeout",
  "stopTimeout",
  "exitTimeout",
  "handleSignals",
  "metricsInterval",
  "maxLabelSets",
  "workerUrl",
];

/** Options with defaults applied and checked. */
export interface ResolvedOptions {
  readonly sinks: SinkSpec[];
  readonly producer: ProducerConfig;
  readonly startTimeout: number;
  readonly stopTimeout: number;
  readonly exitTimeout: number;
  readonly handleSignals: boolean;
  readonly metricsInterval: number;
  readonly maxLabelSets: number;
  readonly workerUrl: URL;
}

/**
 * Applies defaults and checks every option.
 *
 * @throws {TypeError} Naming the first invalid option and what it accepts.
 */
export function resolveOptions(
  options: TelemetryOptions | undefined | null,
  defaultWorker: URL,
): ResolvedOptions {
  options ??= {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`Invalid options: expected an object or nothing, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) {
      throw new TypeError(`Unknown option ${JSON.stringify(key)}: the options are ${KNOWN.join(", ")}`);
    }
  }
  const sinks: readonly SinkOption[] = options.sinks === undefined ? ["console"] : options.sinks;
  if (!Array.isArray(sinks)) {
    throw new TypeError(
      `Invalid option sinks: expected an array such as ["console"], got ${describe(sinks)}`,
    );
  }
  return {
    sinks: Array.from(sinks, resolveSink),
    producer: {
      batchSize: integer("batchSize", options.batchSize, 8192, 1, 1 << 20),
      maxQueued: integer("maxQueued", options.maxQueued, 1 << 20, 1, 1 << 30),
      overflow: overflow(options.overflow),
      maxEventBytes: integer("maxEventBytes", options.maxEventBytes, 1 << 20, 64, 1 << 29),
    },
    startTimeout: duration("startTimeout", options.startTimeout, 10_000),
    stopTimeout: duration("stopTimeout", options.stopTimeout, 10_000),
    exitTimeout: duration("exitTimeout", options.exitTimeout, 2_000),
    handleSignals: boolean("handleSignals", options.handleSignals, true),
    metricsInterval: duration("metricsInterval", options.metricsInterval, 1_000),
    maxLabelSets: integer("maxLabelSets", options.maxLabelSets, 1_000, 1, 1_000_000),
    workerUrl: options.workerUrl === undefined ? defaultWorker : absoluteUrl("workerUrl", options.workerUrl),
  };
}

function resolveSink(option: SinkOption | undefined, index: number): SinkSpec {
  const at = `sinks[${index}]`;
  if (option === "console") return { kind: "console" };
  if (typeof option !== "object" || option === null) {
    throw new TypeError(
      `Invalid option ${at}: expected "console" or an object with a kind, got ${describe(option)}`,
    );
  }
  const keys = SINK_KEYS[(option as { kind?: string }).kind ?? ""];
  if (keys !== undefined) {
    for (const key of Object.keys(option)) {
      if (key !== "kind" && !keys.includes(key)) {
        throw new TypeError(
          `Unknown option ${at}.${key}: the options of a ${(option as { kind: string }).kind} sink are ` +
            (keys.length === 0 ? "none" : keys.join(", ")),
        );
      }
    }
  }
  switch (option.kind) {
    case "console":
      return { kind: "console" };
    case "ndjson":
      if (typeof option.path !== "string" || option.path === "") {
        throw new TypeError(`Invalid option ${at}.path: expected a file path, got ${describe(option.path)}`);
      }
      return { kind: "ndjson", path: option.path };
    case "report": {
      if (typeof option.path !== "string" || option.path === "") {
        throw new TypeError(`Invalid option ${at}.path: expected a file path, got ${describe(option.path)}`);
      }
      const title = option.title ?? "Telemetry report";
      if (typeof title !== "string") {
        throw new TypeError(`Invalid option ${at}.title: expected a string, got ${describe(title)}`);
      }
      const slowestSpans = integer(`${at}.slowestSpans`, option.slowestSpans, 20, 0, 1000);
      return { kind: "report", path: option.path, title, slowestSpans };
    }
    case "custom": {
      const name = option.export ?? "createSink";
      if (typeof name !== "string" || name === "") {
        throw new TypeError(`Invalid option ${at}.export: expected an export name, got ${describe(name)}`);
      }
      try {
        structuredClone(option.options);
      } catch {
        throw new TypeError(`Invalid option ${at}.options: must be structured-cloneable plain data`);
      }
      return {
        kind: "custom",
        module: absoluteUrl(`${at}.module`, option.module).href,
        export: name,
        options: option.options,
      };
    }
    case "otlp":
      return { kind: "otlp", options: resolveOtlpOptions(option, at) };
    case "pushgateway":
      return pushgatewaySpec(at, option);
    case "progress":
      return resolveProgress(option, at);
    default:
      throw new TypeError(
        `Invalid option ${at}.kind: ${describe((option as { kind?: unknown }).kind)} is not a sink kind; ` +
          `use ${SINK_KINDS}`,
      );
  }
}

function pushgatewaySpec(at: string, option: Extract<SinkOption, { kind: "pushgateway" }>): PushgatewaySpec {
  const url = typeof option.url === "string" && URL.canParse(option.url) ? new URL(option.url) : undefined;
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    const got = describe(option.url);
    throw new TypeError(
      `Invalid option ${at}.url: expected an http(s) URL such as "http://localhost:9091", got ${got}`,
    );
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw new TypeError(
      `Invalid option ${at}.url: give the gateway's base URL, without credentials, query or hash`,
    );
  }
  if (typeof option.job !== "string" || option.job === "") {
    throw new TypeError(`Invalid option ${at}.job: expected a non-empty string, got ${describe(option.job)}`);
  }
  const grouping = labelMap(`${at}.grouping`, option.grouping);
  if ("job" in grouping) {
    throw new TypeError(`Invalid option ${at}.grouping.job: the job is given by ${at}.job`);
  }
  return {
    kind: "pushgateway",
    url: url.href,
    job: option.job,
    grouping,
    labels: labelMap(`${at}.labels`, option.labels),
    interval: duration(`${at}.interval`, option.interval, 10_000),
    timeout: duration(`${at}.timeout`, option.timeout, 5_000),
    retries: integer(`${at}.retries`, option.retries, 3, 0, 10),
  };
}

function labelMap(name: string, value: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Invalid option ${name}: expected an object of label names to strings, got ${describe(value)}`,
    );
  }
  const labels: Record<string, string> = {};
  for (const [key, text] of Object.entries(value)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key) || key.startsWith("__")) {
      throw new TypeError(
        `Invalid option ${name}: ${JSON.stringify(key)} is not a label name; use letters, digits and _, ` +
          `not starting with a digit or __`,
      );
    }
    if (typeof text !== "string") {
      throw new TypeError(`Invalid option ${name}.${key}: expected a string, got ${describe(text)}`);
    }
    labels[key] = text;
  }
  return labels;
}

function resolveProgress(option: Extract<SinkOption, { kind: "progress" }>, at: string): SinkSpec {
  const mode = option.mode ?? "auto";
  if (mode !== "auto" && mode !== "tty" && mode !== "plain") {
    throw new TypeError(
      `Invalid option ${at}.mode: expected "auto", "tty" or "plain", got ${describe(mode)}`,
    );
  }
  // The sidecar's thread cannot ask the terminal its size on every runtime: it is read here, once.
  const size = terminalSize();
  return {
    kind: "progress",
    mode,
    plainInterval: duration(`${at}.plainInterval`, option.plainInterval, 5_000),
    columns: integer(`${at}.columns`, option.columns, size.columns, 20, 10_000),
    rows: size.rows,
    terminal: createTerminalShare(),
  };
}

function boolean(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(`Invalid option ${name}: expected true or false, got ${describe(value)}`);
  }
  return value;
}

function overflow(value: OverflowPolicy | undefined): OverflowPolicy {
  if (value === undefined || value === "drop" || value === "block") return value ?? "drop";
  throw new TypeError(`Invalid option overflow: expected "drop" or "block", got ${describe(value)}`);
}

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `Invalid option ${name}: expected an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks a time in milliseconds: a number above 0; `Infinity` and anything past the timers' limit (about 24.8
 * days) mean that limit.
 *
 * @throws {TypeError} Naming the option.
 */
export function duration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new TypeError(`Invalid option ${name}: expected milliseconds above 0, got ${describe(value)}`);
  }
  return Math.min(value, 2 ** 31 - 1);
}

function absoluteUrl(name: string, value: URL | string): URL {
  if (value instanceof URL) return value;
  if (typeof value === "string" && URL.canParse(value)) return new URL(value);
  throw new TypeError(
    `Invalid option ${name}: expected an absolute URL, for example new URL(path, import.meta.url), ` +
      `got ${describe(value)}`,
  );
}
