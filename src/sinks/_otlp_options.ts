/**
 * The OTLP sink's options: their defaults and checks, shared by the main thread (which rejects bad options before
 * the sidecar starts) and the sink's factory.
 *
 * @module
 */
import { describe } from "../_text.ts";

/** A resource attribute's value. */
export type OtlpAttributeValue =
  | string
  | number
  | boolean
  | readonly string[]
  | readonly number[]
  | readonly boolean[];

/** Options of the OTLP/HTTP sink. Only `endpoint` is required. */
export interface OtlpSinkOptions {
  /**
   * Base URL of the OTLP/HTTP receiver (an OpenTelemetry Collector listens on `http://localhost:4318`). Logs are
   * posted to `<endpoint>/v1/logs`, spans to `/v1/traces`, metrics to `/v1/metrics`. Credentials go in `headers`,
   * not in the URL.
   */
  readonly endpoint: string | URL;
  /**
   * Extra request headers, such as `{ Authorization: "Bearer ..." }`. Their values are never written into an error
   * message, a log line or a report.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Resource attributes describing the program. Default `{ "service.name": "unknown_service" }`. */
  readonly resource?: Readonly<Record<string, OtlpAttributeValue>>;
  /** Milliseconds one request may take, answer included; past that it is retried. Default 10,000. */
  readonly timeout?: number;
  /**
   * Log records and spans the sink may hold, waiting or being sent; past that new ones are dropped and counted.
   * Default 100,000. Metric snapshots are not queued: a newer snapshot replaces one not yet sent.
   */
  readonly maxQueue?: number;
  /** Log records or spans per request. Default 512. */
  readonly maxBatch?: number;
  /** Requests in flight at once. Default 2. */
  readonly concurrency?: number;
  /**
   * Retries of a request that got no answer, or HTTP 429, 502, 503 or 504, before its items count as failed.
   * Default 5; 0 never retries.
   */
  readonly retries?: number;
  /** Milliseconds before the first retry, doubled for each further one, with jitter. Default 500. */
  readonly retryDelay?: number;
  /** The longest wait before a retry, also for a longer `Retry-After`. Default 5,000 ms. */
  readonly maxRetryDelay?: number;
  /**
   * Milliseconds `close()` (at stop) and `flush()` wait for what is held to be sent. Past it, `flush()` returns and
   * `close()` gives up on the rest and counts it as lost. Default 5,000.
   */
  readonly closeTimeout?: number;
}

/** The OTLP sink's options, checked, with defaults applied: plain data that travels to the sidecar. */
export interface ResolvedOtlpOptions {
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly resource: Readonly<Record<string, OtlpAttributeValue>>;
  readonly timeout: number;
  readonly maxQueue: number;
  readonly maxBatch: number;
  readonly concurrency: number;
  readonly retries: number;
  readonly retryDelay: number;
  readonly maxRetryDelay: number;
  readonly closeTimeout: number;
}

const KNOWN = [
  "kind",
  "endpoint",
  "headers",
  "resource",
  "timeout",
  "maxQueue",
  "maxBatch",
  "concurrency",
  "retries",
  "retryDelay",
  "maxRetryDelay",
  "closeTimeout",
];

// RFC 9110 token characters: what a header name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Header values may not hold line breaks or NUL; tabs and visible text are fine.
// Header values are Latin-1 text without control characters (tab allowed): what every runtime's fetch sends.
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Checks the OTLP sink's options and applies the defaults.
 *
 * @param options The options as given.
 * @param at Where they were given, for messages: `sinks[0]`.
 * @returns The options, complete and cloneable.
 * @throws {TypeError} Naming the first invalid option (`sinks[0].timeout`) and what it accepts; never quoting a
 * header's value.
 */
export function resolveOtlpOptions(options: unknown, at: string): ResolvedOtlpOptions {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      `Invalid option ${at}: expected an object with an endpoint, got ${describe(options)}`,
    );
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.includes(key)) {
      throw new TypeError(
        `Unknown option ${at}.${key}: the OTLP sink's options are ${KNOWN.slice(1).join(", ")}`,
      );
    }
  }
  return {
    endpoint: endpoint(`${at}.endpoint`, o.endpoint),
    headers: headers(`${at}.headers`, o.headers),
    resource: resource(`${at}.resource`, o.resource),
    timeout: milliseconds(`${at}.timeout`, o.timeout, 10_000),
    maxQueue: integer(`${at}.maxQueue`, o.maxQueue, 100_000, 1, 2 ** 30),
    maxBatch: integer(`${at}.maxBatch`, o.maxBatch, 512, 1, 2 ** 20),
    concurrency: integer(`${at}.concurrency`, o.concurrency, 2, 1, 64),
    retries: integer(`${at}.retries`, o.retries, 5, 0, 100),
    retryDelay: milliseconds(`${at}.retryDelay`, o.retryDelay, 500),
    maxRetryDelay: milliseconds(`${at}.maxRetryDelay`, o.maxRetryDelay, 5_000),
    closeTimeout: milliseconds(`${at}.closeTimeout`, o.closeTimeout, 5_000),
  };
}

function endpoint(name: string, value: unknown): string {
  const text = value instanceof URL ? value.href : value;
  if (typeof text !== "string" || !URL.canParse(text)) {
    throw new TypeError(
      `Invalid option ${name}: expected an absolute http(s) URL such as "http://localhost:4318", ` +
        `got ${typeof text === "string" ? "a string that is not one" : describe(text)}`,
    );
  }
  const url = new URL(text);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`Invalid option ${name}: expected an http: or https: URL, got ${url.protocol}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(`Invalid option ${name}: put credentials in headers, not in the URL`);
  }
  return url.href;
}

function headers(name: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Invalid option ${name}: expected an object of header names to strings`);
  }
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!TOKEN.test(key)) {
      throw new TypeError(`Invalid option ${name}: ${JSON.stringify(key)} is not a valid header name`);
    }
    // The value may be a secret: say what is wrong with it, never what it is.
    if (typeof item !== "string") {
      throw new TypeError(
        `Invalid option ${name}[${JSON.stringify(key)}]: expected a string, got a ${typeof item}`,
      );
    }
    if (BAD_VALUE.test(item)) {
      throw new TypeError(
        `Invalid option ${name}[${
          JSON.stringify(key)
        }]: a header value must be Latin-1 text without control characters`,
      );
    }
    result[key] = item;
  }
  return result;
}

function resource(name: string, value: unknown): Record<string, OtlpAttributeValue> {
  const result: Record<string, OtlpAttributeValue> = { "service.name": "unknown_service" };
  if (value === undefined) return result;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Invalid option ${name}: expected an object of attribute names to values`);
  }
  for (const [key, item] of Object.entries(value)) {
    const scalar = (v: unknown) => typeof v === "string" || typeof v === "boolean" || typeof v === "number";
    const ok = scalar(item) ||
      (Array.isArray(item) && item.every((v) => scalar(v) && typeof v === typeof item[0]));
    if (!ok) {
      throw new TypeError(
        `Invalid option ${name}[${JSON.stringify(key)}]: expected a string, number, boolean or an array of ` +
          `one of those, got ${describe(item)}`,
      );
    }
    result[key] = Array.isArray(item) ? [...item] : item as OtlpAttributeValue;
  }
  return result;
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `Invalid option ${name}: expected an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new TypeError(`Invalid option ${name}: expected milliseconds above 0, got ${describe(value)}`);
  }
  // Timers take at most 2^31 - 1 ms.
  return Math.min(value, 2 ** 31 - 1);
}
