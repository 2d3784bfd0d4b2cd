import { encodeLogs, encodeMetrics, encodeResource, encodeSpans, type OtlpResource } from "./_otlp_json.ts";
import { type OtlpSinkOptions, type ResolvedOtlpOptions, resolveOtlpOptions } from "./_otlp_options.ts";
import type { LogRecord, MetricsSnapshot, RunSummary, Sink, SpanRecord, TelemetryRecord } from "./sink.ts";

export type { OtlpAttributeValue, OtlpSinkOptions } from "./_otlp_options.ts";

/** What happened to one signal's items so far. Every item given to the sink ends in exactly one count. */
export interface OtlpSignalStats {
  /** Accepted by the receiver. */
  readonly exported: number;
  /** Refused because `maxQueue` items were held, or given after `close()`. */
  readonly dropped: number;
  /** Refused by the receiver (an HTTP error that is not retried, or a partial success), or out of retries. */
  readonly failed: number;
  /** Still held when `close()` reached its deadline. */
  readonly abandoned: number;
}

/** Counts of the OTLP sink, for tests and diagnostics. */
export interface OtlpStats {
  /** Log records and spans held now: waiting, or in a request not yet answered. */
  readonly held: number;
  /** Log records. */
  readonly logs: OtlpSignalStats;
  /** Spans. */
  readonly spans: OtlpSignalStats;
  /** Metric snapshots, one request each. */
  readonly metrics: OtlpSignalStats & {
    /** Replaced by a newer snapshot before they were sent: not a loss, since values are cumulative. */
    readonly superseded: number;
  };
}

/** The OTLP sink: a `Sink` with live counts. */
export interface OtlpSink extends Sink {
  /** Queues log records and spans for export; never waits on the network, never throws. */
  records(records: readonly TelemetryRecord[]): void;
  /** Queues a snapshot for export, replacing one not yet sent; never waits on the network, never throws. */
  metrics(snapshot: MetricsSnapshot): void;
  /** Waits, at most `closeTimeout`, until nothing is held. Never throws. */
  flush(): Promise<void>;
  /**
   * Waits, at most `closeTimeout`, for what is held, gives up on the rest, and rejects with one Error counting
   * every log record, span and metric export lost during the run, if any was.
   */
  close(summary?: RunSummary): Promise<void>;
  /** A copy of the counts at this moment. */
  readonly stats: OtlpStats;
}

type Signal = "logs" | "spans" | "metrics";

interface Counts {
  exported: number;
  dropped: number;
  failed: number;
  abandoned: number;
}

/** The work of one request: its items stay held (and count against `maxQueue`) until it is settled. */
interface Task {
  readonly signal: Signal;
  readonly items: number;
  settled: boolean;
}

type Attempt =
  | { readonly kind: "ok"; readonly rejected: number; readonly reason: string }
  | { readonly kind: "retry" | "fail"; readonly reason: string; readonly retryAfter?: number }
  | { readonly kind: "closed" };

const PATHS: Readonly<Record<Signal, string>> = {
  logs: "v1/logs",
  spans: "v1/traces",
  metrics: "v1/metrics",
};
const RETRYABLE = new Set([429, 502, 503, 504]);
const NOUN: Readonly<Record<Signal, string>> = { logs: "logs", spans: "spans", metrics: "metric exports" };

/**
 * Exports log records, spans and metrics to an OpenTelemetry receiver over OTLP/HTTP with the JSON encoding.
 *
 * `records()` and `metrics()` only queue: requests go out in the background, up to `concurrency` at once and
 * `maxBatch` items each, retried with exponential backoff and jitter on network errors, timeouts and HTTP 429,
 * 502, 503 and 504 (honouring `Retry-After`). Every metrics snapshot is exported, except that one not yet sent is
 * replaced by a newer one (values are cumulative since the run's start, so the newer one holds the older). Past
 * `maxQueue` held log records and spans, new ones are dropped and counted. Progress records are not exported.
 *
 * `flush()` waits, at most `closeTimeout`, until nothing is held. `close()` waits as long, then gives up on what is
 * left, and throws one Error counting the log records, spans and metric exports lost and why, if any were.
 *
 * @param options Where to send and how; see `OtlpSinkOptions`.
 * @returns The sink.
 * @throws {TypeError} When an option is invalid, naming it.
 *
 * @example Export to a collector on this machine
 * ```ts ignore
 * import { otlpSink } from "./otlp.ts";
 *
 * const sink = otlpSink({ endpoint: "http://localhost:4318", resource: { "service.name": "fit" } });
 * ```
 */
export function otlpSink(options: OtlpSinkOptions): OtlpSink {
  return new OtlpExporter(resolveOtlpOptions(options, "otlp"));
}

/**
 * Builds the OTLP sink from options already checked on the main thread.
 *
 * @param options From `resolveOtlpOptions()`.
 * @returns The sink.
 */
export function otlpSinkFromResolved(options: ResolvedOtlpOptions): OtlpSink {
  return new OtlpExporter(options);
}

class OtlpExporter implements OtlpSink {
  readonly #options: ResolvedOtlpOptions;
  readonly #resource: OtlpResource;
  readonly #headers: Headers;
  readonly #secrets: string[];
  readonly #where: string;
  readonly #counts: Record<Signal, Counts> = {
    logs: { exported: 0, dropped: 0, failed: 0, abandoned: 0 },
    spans: { exported: 0, dropped: 0, failed: 0, abandoned: 0 },
    metrics: { exported: 0, dropped: 0, failed: 0, abandoned: 0 },
  };
  readonly #lastError: Partial<Record<Signal, string>> = {};
  #superseded = 0;
  readonly #logs = new Queue<LogRecord>();
  readonly #spans = new Queue<SpanRecord>();
  #snapshot: MetricsSnapshot | undefined;
  #held = 0;
  readonly #tasks = new Set<Task>();
  #metricsInFlight = false;
  #turn = 0;
  readonly #stop = new AbortController();
  #closed = false;
  /** Milliseconds `close()` waited at most: `closeTimeout`, or less when the stop had less. */
  #closeBudget = 0;
  #idle: Array<() => void> = [];

  constructor(options: ResolvedOtlpOptions) {
    this.#options = options;
    this.#resource = encodeResource(options.resource);
    this.#headers = new Headers(options.headers);
    this.#headers.set("content-type", "application/json");
    this.#secrets = Object.values(options.headers).filter((value) => value !== "");
    const url = new URL(options.endpoint);
    this.#where = url.origin + url.pathname;
  }

  get stats(): OtlpStats {
    return {
      held: this.#held,
      logs: { ...this.#counts.logs },
      spans: { ...this.#counts.spans },
      metrics: { ...this.#counts.metrics, superseded: this.#superseded },
    };
  }

  records(records: readonly TelemetryRecord[]): void {
    const max = this.#options.maxQueue;
    for (const record of records) {
      if (record.type === "progress") continue;
      const signal = record.type === "log" ? "logs" : "spans";
      if (this.#closed || this.#held >= max) {
        this.#counts[signal].dropped++;
        continue;
      }
      if (record.type === "log") this.#logs.push(record);
      else this.#spans.push(record);
      this.#held++;
    }
    this.#pump();
  }

  metrics(snapshot: MetricsSnapshot): void {
    if (this.#closed) {
      this.#counts.metrics.dropped++;
      return;
    }
    if (snapshot.series.length === 0) return;
    if (this.#snapshot !== undefined) this.#superseded++;
    this.#snapshot = snapshot;
    this.#pump();
  }

  async flush(): Promise<void> {
    await this.#whenIdle(this.#options.closeTimeout);
  }

  async close(summary?: RunSummary): Promise<void> {
    if (this.#closed) return;
    // The stop's own budget may be shorter (an exiting process): giving up inside it still reports the loss.
    const budget = summary === undefined ? this.#options.closeTimeout : Math.max(
      0,
      Math.min(this.#options.closeTimeout, summary.deadline - (performance.timeOrigin + performance.now())),
    );
    this.#closeBudget = budget;
    const idle = await this.#whenIdle(budget);
    this.#closed = true;
    if (!idle) this.#abandon();
    const error = this.#lossReport();
    if (error !== undefined) throw new Error(error);
  }

  /** Starts requests while there is room and work, taking the signals in turn. */
  #pump(): void {
    while (!this.#stop.signal.aborted && this.#tasks.size < this.#options.concurrency) {
      let started = false;
      for (let i = 0; i < 3 && !started; i++) {
        const signal = (["logs", "spans", "metrics"] as const)[this.#turn++ % 3]!;
        started = this.#start(signal);
      }
      if (!started) break;
    }
    if (this.#tasks.size === 0 && this.#held === 0 && this.#snapshot === undefined) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  #start(signal: Signal): boolean {
    let encode: () => unknown;
    let items = 0;
    if (signal === "metrics") {
      const snapshot = this.#snapshot;
      if (snapshot === undefined || this.#metricsInFlight) return false;
      this.#snapshot = undefined;
      this.#metricsInFlight = true;
      encode = () => encodeMetrics(snapshot, this.#resource);
    } else {
      const queue = signal === "logs" ? this.#logs : this.#spans;
      if (queue.length === 0) return false;
      const batch = queue.take(this.#options.maxBatch);
      items = batch.length;
      encode = () =>
        signal === "logs"
          ? encodeLogs(batch as LogRecord[], this.#resource)
          : encodeSpans(batch as SpanRecord[], this.#resource);
    }
    const task: Task = { signal, items, settled: false };
    this.#tasks.add(task);
    let body: string;
    try {
      body = JSON.stringify(encode());
    } catch (error) {
      // Settled on a later tick, so `records()` never throws and `#pump` does not recurse.
      queueMicrotask(() => this.#settle(task, "failed", `cannot encode: ${describeError(error)}`));
      return true;
    }
    // Never rejects: every failure ends as a count.
    this.#send(task, body).catch((error) => this.#settle(task, "failed", describeError(error)));
    return true;
  }

  async #send(task: Task, body: string): Promise<void> {
    const url = new URL(this.#options.endpoint);
    url.pathname = url.pathname.replace(/\/$/, "") + "/" + PATHS[task.signal];
    for (let attempt = 0;; attempt++) {
      const result = await this.#post(url, body);
      if (task.settled) return;
      switch (result.kind) {
        case "ok":
          this.#settle(task, "exported", result.reason, result.rejected);
          return;
        case "closed":
          return;
        case "fail":
          this.#settle(task, "failed", result.reason);
          return;
        case "retry":
          if (attempt >= this.#options.retries) {
            const tries = attempt + 1;
            this.#settle(
              task,
              "failed",
              `${result.reason}, ${tries} ${tries === 1 ? "attempt" : "attempts"}`,
            );
            return;
          }
          await this.#wait(result.retryAfter ?? this.#backoff(attempt));
          if (task.settled) return;
      }
    }
  }

  /** One POST; answers what to do next. */
  async #post(url: URL, body: string): Promise<Attempt> {
    if (this.#stop.signal.aborted) return { kind: "closed" };
    const request = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort();
    }, this.#options.timeout);
    const stop = () => request.abort();
    this.#stop.signal.addEventListener("abort", stop);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: this.#headers,
        body,
        signal: request.signal,
      });
      // Read whole, inside the timeout, so the connection is free for the next request.
      const text = await response.text();
      if (response.ok) return { kind: "ok", ...rejectedIn(text) };
      const reason = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
      if (!RETRYABLE.has(response.status)) return { kind: "fail", reason };
      const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
      return retryAfter === undefined
        ? { kind: "retry", reason }
        : { kind: "retry", reason, retryAfter: Math.min(retryAfter, this.#options.maxRetryDelay) };
    } catch (error) {
      if (this.#stop.signal.aborted) return { kind: "closed" };
      if (timedOut) return { kind: "retry", reason: `no answer within ${this.#options.timeout} ms` };
      return { kind: "retry", reason: describeError(error) };
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", stop);
    }
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.#options.maxRetryDelay, this.#options.retryDelay * 2 ** attempt);
    // Equal jitter: senders that failed together spread out, yet each waits at least half the step.
    return base / 2 + Math.random() * base / 2;
  }

  /** Waits before a retry; cut short by `close()` giving up. */
  #wait(ms: number): Promise<void> {
    const stop = this.#stop.signal;
    if (stop.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stop.addEventListener("abort", done);
    });
  }

  #settle(task: Task, outcome: "exported" | "failed", reason?: string, rejected = 0): void {
    if (task.settled) return;
    task.settled = true;
    this.#tasks.delete(task);
    this.#held -= task.items;
    const counts = this.#counts[task.signal];
    // A metrics export counts once: as failed when the receiver refused any of its points.
    const items = task.signal === "metrics" ? 1 : task.items;
    const refused = task.signal === "metrics" ? Math.min(rejected, 1) : Math.min(rejected, items);
    const failed = outcome === "failed" ? items : refused;
    counts.exported += items - failed;
    counts.failed += failed;
    if (failed > 0 && reason !== undefined) this.#lastError[task.signal] = this.#redact(reason);
    if (task.signal === "metrics") this.#metricsInFlight = false;
    this.#pump();
  }

  /** Gives up on everything held: waiting items, pending snapshot and requests under way. */
  #abandon(): void {
    this.#stop.abort();
    this.#counts.logs.abandoned += this.#logs.length;
    this.#counts.spans.abandoned += this.#spans.length;
    this.#logs.clear();
    this.#spans.clear();
    if (this.#snapshot !== undefined) this.#counts.metrics.abandoned++;
    this.#snapshot = undefined;
    for (const task of this.#tasks) {
      task.settled = true;
      this.#counts[task.signal].abandoned += task.signal === "metrics" ? 1 : task.items;
    }
    this.#tasks.clear();
    this.#held = 0;
    this.#metricsInFlight = false;
  }

  /** Resolves true once nothing is held or in flight, false after `ms`. */
  #whenIdle(ms: number): Promise<boolean> {
    if (this.#tasks.size === 0 && this.#held === 0 && this.#snapshot === undefined) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        const at = this.#idle.indexOf(onIdle);
        if (at >= 0) this.#idle.splice(at, 1);
        resolve(idle);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.#idle.push(onIdle);
    });
  }

  /** One message for every loss of the run, or `undefined` when nothing was lost. */
  #lossReport(): string | undefined {
    const signals = ["logs", "spans", "metrics"] as const;
    const lost = (s: Signal) => this.#counts[s].dropped + this.#counts[s].failed + this.#counts[s].abandoned;
    if (signals.every((s) => lost(s) === 0)) return undefined;
    const list = (count: (s: Signal) => number) =>
      signals.filter((s) => count(s) > 0).map((s) => `${count(s)} ${NOUN[s]}`).join(", ");
    const parts: string[] = [];
    const dropped = list((s) => this.#counts[s].dropped);
    if (dropped) parts.push(`${dropped} dropped with the queue full (maxQueue ${this.#options.maxQueue})`);
    for (const s of signals) {
      const failed = this.#counts[s].failed;
      if (failed > 0) {
        parts.push(`${failed} ${NOUN[s]} failed (last error: ${this.#lastError[s] ?? "unknown"})`);
      }
    }
    const abandoned = list((s) => this.#counts[s].abandoned);
    if (abandoned) {
      parts.push(`${abandoned} not sent by the close deadline (${Math.round(this.#closeBudget)} ms)`);
    }
    return this.#redact(
      `OTLP export to ${this.#where} lost ${list(lost)}: ${parts.join("; ")}. ` +
        `Check that the receiver is reachable and accepts the data, or raise maxQueue and closeTimeout`,
    );
  }

  /** Removes every header value from a text that may quote one (an error from the network layer, say). */
  #redact(text: string): string {
    for (const secret of this.#secrets) text = text.split(secret).join("[redacted]");
    return text;
  }
}

/** A FIFO queue with O(1) removal from the front. */
class Queue<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  take(max: number): T[] {
    const batch = this.#items.slice(this.#head, this.#head + max);
    this.#head += batch.length;
    // Drop the taken front once it is most of the array, so memory follows what is held.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/** Items a partial success says were rejected, and its message. */
function rejectedIn(text: string): { rejected: number; reason: string } {
  if (text === "") return { rejected: 0, reason: "" };
  try {
    const partial = (JSON.parse(text) as { partialSuccess?: Record<string, unknown> })?.partialSuccess;
    if (partial === undefined || partial === null) return { rejected: 0, reason: "" };
    const rejected = Number(
      partial.rejectedLogRecords ?? partial.rejectedSpans ?? partial.rejectedDataPoints ?? 0,
    );
    const message = typeof partial.errorMessage === "string" ? partial.errorMessage : "";
    return {
      rejected: Number.isFinite(rejected) && rejected > 0 ? rejected : 0,
      reason: `the receiver rejected ${rejected}${message ? `: ${message}` : ""}`,
    };
  } catch {
    // A body that is not JSON (a proxy's page, say) still came with a success status.
    return { rejected: 0, reason: "" };
  }
}

/**
 * Milliseconds to wait from a `Retry-After` header: delay-seconds or an HTTP date.
 *
 * @param value The header, or `null`.
 * @param now The current time in epoch milliseconds, for an HTTP date.
 * @returns The wait, or `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause !== undefined && !error.message.includes(cause) ? `${error.message}: ${cause}` : error.message;
}
