import {
  countDelta,
  createClock,
  createSlot,
  DROPPED,
  ERRORS,
  type FromSidecar,
  HANDLED,
  INVALID,
  type Port,
  type ProducerInfo,
  type ProducerReport,
  SENT,
  type SinkReport,
  STOPPED,
  type StopReport,
  type SyncReply,
  TRUNCATED,
  type WelcomeMessage,
} from "../protocol.ts";
import { type ExitKind, installExitHooks } from "../runtime/exit.ts";
import { writeSync } from "../runtime/stdio.ts";
import { spawnWorker, type WorkerHandle } from "../runtime/worker.ts";
import { duration, type ResolvedOptions, resolveOptions, type TelemetryOptions } from "./options.ts";
import { escapeControl } from "../sinks/_format.ts";
import { Producer } from "./producer.ts";
import { installConsoleGuard } from "./console_guard.ts";
import {
  type Counter,
  type Gauge,
  type Histogram,
  type HistogramOptions,
  type Instruments,
  InstrumentSet,
  type MetricLabels,
  type MetricOptions,
  type Span,
  type SpanContext,
  type Timer,
} from "./instruments.ts";
import type { LogLevel } from "../sinks/sink.ts";
import { errorMessage } from "../_text.ts";

/** Live counts, read without a message to the sidecar. */
export interface TelemetryStats {
  /** Events, records (logs, spans, progress) and histogram values sent, on every producer. */
  readonly sent: number;
  /** Of those, the ones every sink has handled. */
  readonly handled: number;
  /** Of those, the ones refused (after stop, past `maxQueued`) or lost with the sidecar. */
  readonly dropped: number;
  /** Metric updates and records refused for a bad value (a negative counter increment, a NaN). */
  readonly invalid: number;
  /** Sink calls that threw or rejected, and errors on the sidecar's thread outside sink calls. */
  readonly errors: number;
}

/** Options of `stop()`. */
export interface StopOptions {
  /** Milliseconds to wait for the sidecar's answer; then it is terminated. Default: the `stopTimeout` option. */
  readonly timeout?: number;
}

const SIDECAR_URL = new URL("../worker/sidecar_worker.ts", import.meta.url);

/**
 * A running telemetry sidecar and the sending side of the thread that started it.
 *
 * Create it with `startTelemetry()`. `event()` buffers and returns at once; `flush()` and `stop()` resolve once every
 * event sent before them was handled by every sink.
 */
export class Telemetry implements AsyncDisposable, Instruments {
  readonly #handle: WorkerHandle;
  readonly #instruments: InstrumentSet;
  readonly #options: ResolvedOptions;
  readonly #producer: Producer;
  readonly #producers: ProducerInfo[];
  readonly #startedAt: number;
  readonly #onDeath = new Set<() => void>();
  readonly #removeExitHooks: () => void;
  /** Undoes the console wrapping that keeps the program's output from garbling a progress block. */
  readonly #removeConsoleGuard: () => void;
  #holds = 0;
  #dead = false;
  #exitStopSent = false;
  #exitReported = false;
  #lastError: string | undefined;
  #lastSinks: readonly SinkReport[] = [];
  #stopping: Promise<StopReport> | undefined;

  /** Use `startTelemetry()`; the constructor is internal. */
  constructor(handle: WorkerHandle, options: ResolvedOptions, main: ProducerInfo, startedAt: number) {
    this.#handle = handle;
    this.#options = options;
    this.#producers = [main];
    this.#startedAt = startedAt;
    this.#producer = new Producer(
      main,
      (message, transfer) => handle.post(message, transfer),
      options.producer,
    );
    this.#instruments = new InstrumentSet(this.#producer);
    this.#removeConsoleGuard = installConsoleGuard(options.sinks);
    // An error event does not always end a worker (Bun also reports errors the worker caught); its exit does.
    handle.onError((error) => this.#lastError = error.message);
    handle.onExit(() => this.#die(this.#lastError ?? "it exited"));
    this.#removeExitHooks = installExitHooks({
      begin: (kind) => this.#beginExitDrain(kind),
      finish: (kind, deadline) => this.#finishExitDrain(kind, deadline),
      timeout: options.exitTimeout,
      signals: options.handleSignals,
    });
  }

  /**
   * Sends one event to the sidecar. Never blocks and never throws: after `stop()` the event is counted as dropped.
   *
   * @example Report progress from a loop
   * ```ts
   * import { startTelemetry } from "@sidecar/telemetry";
   *
   * const telemetry = await startTelemetry({ sinks: [] });
   * const progress = { step: 0, loss: 1 };
   * for (let step = 1; step <= 3; step++) {
   *   progress.step = step; // reusing the object is fine: event() copies it
   *   progress.loss /= 2;
   *   telemetry.event(progress);
   * }
   * await telemetry.stop();
   * ```
   *
   * @param value Any value, copied as it is at this call (see `snapshot` rules in the README).
   */
  event(value: unknown): void {
    this.#producer.event(value);
  }

  /**
   * Gets a counter handle: made once, then `add()` in hot loops costs a few nanoseconds and sends nothing (the total
   * lives in memory shared with the sidecar). The same name and labels give the same handle.
   *
   * @example Count rows in a hot loop
   * ```ts
   * import { startTelemetry } from "@sidecar/telemetry";
   *
   * const telemetry = await startTelemetry({ sinks: [] });
   * const rows = telemetry.counter("rows_processed", { stage: "load" });
   * for (let i = 0; i < 1000; i++) rows.add();
   * await telemetry.stop();
   * ```
   *
   * @param name The metric's name.
   * @param labels Fixed labels of this handle's series.
   * @param options Unit and description.
   * @returns The handle.
   * @throws {TypeError} When the name is empty, a label value is not a string, or the name is another kind's.
   */
  counter(name: string, labels?: MetricLabels, options?: MetricOptions): Counter {
    return this.#instruments.counter(name, labels, options);
  }

  /**
   * Gets a gauge handle: `set()` stores the value in memory shared with the sidecar.
   *
   * @param name The metric's name.
   * @param labels Fixed labels of this handle's series.
   * @param options Unit and description.
   * @returns The handle.
   * @throws {TypeError} When the name is empty, a label value is not a string, or the name is another kind's.
   */
  gauge(name: string, labels?: MetricLabels, options?: MetricOptions): Gauge {
    return this.#instruments.gauge(name, labels, options);
  }

  /**
   * Gets a histogram handle: `record()` stores the value in the batch going to the sidecar, which keeps buckets,
   * sum, count, min, max and p50/p90/p99.
   *
   * @example Record a loss per step
   * ```ts
   * import { startTelemetry } from "@sidecar/telemetry";
   *
   * const telemetry = await startTelemetry({ sinks: [] });
   * const loss = telemetry.histogram("loss", {}, { buckets: [0.01, 0.1, 1] });
   * for (let step = 1; step <= 100; step++) loss.record(1 / step);
   * await telemetry.stop();
   * ```
   *
   * @param name The metric's name.
   * @param labels Fixed labels of this handle's series.
   * @param options Unit, description and bucket bounds.
   * @returns The handle.
   * @throws {TypeError} When the name is empty, a label value is not a string, the buckets are not ascending
   * finite numbers, or the name is another kind's.
   */
  histogram(name: string, labels?: MetricLabels, options?: HistogramOptions): Histogram {
    return this.#instruments.histogram(name, labels, options);
  }

  /**
   * Gets a timer: a histogram of milliseconds. `start()` returns the function that stops it.
   *
   * @param name The metric's name.
   * @param labels Fixed labels of this handle's series.
   * @returns The handle.
   * @throws {TypeError} As `histogram()`.
   */
  timer(name: string, labels?: MetricLabels): Timer {
    return this.#instruments.timer(name, labels);
  }

  /**
   * Runs `fn` and records how long it took in the timer `name`; for a promise, once it settles.
   *
   * @example Time a phase
   * ```ts
   * import { startTelemetry } from "@sidecar/telemetry";
   *
   * const telemetry = await startTelemetry({ sinks: [] });
   * const total = telemetry.time("sum_ms", () => [1, 2, 3].reduce((a, b) => a + b));
   * console.assert(total === 6);
   * await telemetry.stop();
   * ```
   *
   * @param name The timer's name.
   * @param fn The work to time.
   * @returns What `fn` returns.
   */
  time<T>(name: string, fn: () => T): T {
    return this.#instruments.time(name, fn);
  }

  /**
   * Sends a log line. Never throws: an unknown level is sent as `"info"` and counted in `invalid`.
   *
   * @param level `"trace"`, `"debug"`, `"info"`, `"warn"`, `"error"` or `"fatal"`.
   * @param message The line.
   * @param fields Extra fields, copied at this call.
   */
  log(level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>): void {
    this.#instruments.log(level, message, fields);
  }

  /**
   * Starts a root span; `span.span()` starts a child in the same trace, `span.end()` sends it.
   *
   * @example Time a stage with a child step
   * ```ts
   * import { startTelemetry } from "@sidecar/telemetry";
   *
   * const telemetry = await startTelemetry({ sinks: [] });
   * const fit = telemetry.span("fit", { rows: 1000 });
   * const step = fit.span("gradient");
   * step.end();
   * fit.end();
   * await telemetry.stop();
   * ```
   *
   * @param name The operation.
   * @param attributes Attributes, copied at this call (`setAttribute()` adds more).
   * @param parent The span this one runs in, possibly one of another thread (pass `{ traceId, spanId }` along
   * with the work). A malformed parent starts a root span and is counted in `invalid`.
   * @returns The running span.
   */
  span(name: string, attributes?: Readonly<Record<string, unknown>>, parent?: SpanContext | null): Span {
    return this.#instruments.span(name, attributes, parent);
  }

  /**
   * Reports progress: `done` units of `total` in the stage `label` (default `"main"`; a worker's default is its
   * `connect()` name). A `done` that is not a finite number from 0 up is ignored and counted in `invalid`.
   *
   * @param done Units done so far.
   * @param total Units in the stage, when known.
   * @param label The stage.
   */
  progress(done: number, total?: number, label?: string): void {
    this.#instruments.progress(done, total, label);
  }

  /** Live counts over every producer. */
  get stats(): TelemetryStats {
    const { sent, handled, dropped, invalid } = this.#count();
    return { sent, handled, dropped, invalid, errors: Atomics.load(this.#producers[0]!.slot, ERRORS) };
  }

  /**
   * Resolves once every event sent before this call (on any producer) was handled by every sink, and each sink's
   * `flush()` ran. The sidecar keeps running.
   *
   * @example Make sure a phase's events are written before going on
   * ```ts
   * import { startTelemetry } from "@sidecar/telemetry";
   *
   * const telemetry = await startTelemetry({ sinks: [] });
   * telemetry.event({ phase: "load", rows: 200_000 });
   * const confirmed = await telemetry.flush();
   * console.assert(confirmed && telemetry.stats.handled === 1);
   * await telemetry.stop();
   * ```
   *
   * @returns True when the sidecar confirmed every event; false when it did not within `stopTimeout` (a stuck
   * sink, a busy worker still holding events), after `stop()`, or when the sidecar is gone.
   */
  async flush(): Promise<boolean> {
    if (this.#stopping || this.#dead) return false;
    this.#producer.post();
    const reply = await this.#request("flush", this.#options.stopTimeout);
    if (reply) this.#lastSinks = reply.sinks;
    return reply?.complete === true;
  }

  /**
   * Stops the sidecar after every event sent before this call was handled and every sink was closed. Calling it
   * again returns the same report.
   *
   * @param options `timeout`: milliseconds to wait for the sidecar before it is terminated.
   * @returns Exact counts of the run. Rejects with a `TypeError` (and does not stop) when `timeout` is not a
   * number above 0.
   */
  stop(options?: StopOptions | null): Promise<StopReport> {
    if (this.#stopping) return this.#stopping;
    let timeout: number;
    try {
      timeout = duration("timeout", options?.timeout, this.#options.stopTimeout);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#stopping = this.#stop(timeout);
  }

  /**
   * Creates a producer port for another thread: transfer it to a worker, and there call `attachTelemetry(port)`.
   * Every event sent through it before `stop()` is called is handled before `stop()` resolves.
   *
   * @example Give a compute worker its own producer
   * ```ts ignore
   * import { Worker } from "node:worker_threads";
   * import { startTelemetry } from "@sidecar/telemetry";
   *
   * const telemetry = await startTelemetry();
   * const worker = new Worker(new URL("./compute_worker.ts", import.meta.url));
   * const port = telemetry.connect("worker-0");
   * worker.postMessage({ port }, [port]);
   * ```
   *
   * @param name Names the producer in reports and records. Default `"producer-<id>"`.
   * @returns The port to transfer.
   * @throws {Error} After `stop()`.
   */
  connect(name?: string): Port {
    if (this.#stopping) throw new Error("Telemetry is stopped: call connect() before stop()");
    const id = this.#producers.length;
    const info: ProducerInfo = {
      id,
      name: name ?? `producer-${id}`,
      slot: createSlot(),
      clock: this.#producers[0]!.clock,
    };
    const { port1, port2 } = new MessageChannel();
    const welcome: WelcomeMessage = { kind: "welcome", producer: info, config: this.#options.producer };
    port1.postMessage(welcome);
    this.#producers.push(info);
    this.#handle.post({ kind: "connect", producer: info, port: port1 }, [port1]);
    return port2;
  }

  /** Stops the sidecar at the end of an `await using` scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(timeout: number): Promise<StopReport> {
    this.#producer.close();
    const reply = this.#dead ? undefined : await this.#request("stop", timeout);
    if (reply) this.#lastSinks = reply.sinks;
    this.#dead = true;
    this.#removeExitHooks();
    // The final block is drawn once the sidecar answered (or is gone): the console is the program's again.
    this.#removeConsoleGuard();
    void this.#handle.terminate();
    const counts = this.#count();
    return {
      sent: counts.sent,
      handled: counts.handled,
      dropped: counts.dropped,
      truncated: counts.truncated,
      invalid: counts.invalid,
      errors: this.#lastSinks.reduce((sum, s) => sum + s.errors, 0),
      durationMs: performance.now() - this.#startedAt,
      confirmed: reply !== undefined && reply.complete,
      producers: counts.producers,
      sinks: this.#lastSinks,
    };
  }

  /** Sends a flush or stop request with a fresh reply port; resolves with the answer, or undefined on timeout. */
  #request(kind: "flush" | "stop", timeout: number): Promise<SyncReply | undefined> {
    const { port1, port2 } = new MessageChannel();
    return new Promise((resolve) => {
      let done = false;
      const finish = (reply: SyncReply | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#onDeath.delete(onDeath);
        port1.onmessage = null;
        port1.close();
        if (--this.#holds === 0) this.#handle.unref();
        resolve(reply);
      };
      const onDeath = () => finish(undefined);
      const timer = setTimeout(onDeath, timeout);
      port1.onmessage = (event: MessageEvent) => finish(event.data as SyncReply);
      this.#onDeath.add(onDeath);
      if (this.#holds++ === 0) this.#handle.ref();
      // The sidecar gives up waiting for late batches a little before the caller does, so it can still answer.
      this.#handle.post({ kind, reply: port2, timeout: Math.max(0, timeout * 0.75) }, [port2]);
    });
  }

  /**
   * The process is ending without a finished `stop()` (or, for `"error"`, may be: the program can still cancel the
   * error): post what this thread buffered and ask the sidecar to finish, without blocking, so that every running
   * telemetry drains at once.
   */
  #beginExitDrain(kind: ExitKind): void {
    if (this.#dead || this.#exitStopSent) return;
    if (kind === "error") {
      this.#producer.post();
      return;
    }
    this.#exitStopSent = true;
    if (this.#stopping === undefined) {
      this.#producer.close();
      const { port2 } = new MessageChannel();
      this.#handle.post({ kind: "stop", reply: port2, timeout: this.#options.exitTimeout * 0.75 }, [port2]);
    }
  }

  /**
   * Blocks this thread (the sidecar has its own) until the sidecar stopped (`"exit"`) or handled everything sent
   * (`"error"`), or `deadline` passes. One stderr line says how many events were not handled, if any.
   */
  #finishExitDrain(kind: ExitKind, deadline: number): void {
    if (this.#exitReported) return;
    const main = this.#producers[0]!.slot;
    const done = kind === "exit"
      ? () => Atomics.load(main, STOPPED) === 1
      : () =>
        this.#producers.every((p) =>
          countDelta(Atomics.load(p.slot, SENT), Atomics.load(p.slot, HANDLED)) <= 0
        );
    while (!this.#dead && !done()) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      // Woken by the sidecar's stop flag; handled counts are polled every few milliseconds.
      if (kind === "exit") Atomics.wait(main, STOPPED, 0, left);
      else Atomics.wait(main, HANDLED, Atomics.load(main, HANDLED), Math.min(left, 5));
    }
    let unhandled = 0;
    for (const info of this.#producers) {
      unhandled += Math.max(0, countDelta(Atomics.load(info.slot, SENT), Atomics.load(info.slot, HANDLED)));
    }
    if (kind === "exit") this.#exitReported = true;
    if (kind === "exit" && unhandled === 0 && !this.#dead && Atomics.load(main, STOPPED) !== 1) {
      // Every event was handled, but some sink was still closing (a network sink flushing, say).
      writeSync(
        2,
        `Telemetry: the sinks did not finish closing within ${this.#options.exitTimeout} ms before exit ` +
          `(final metrics and exports may be incomplete)\n`,
      );
    }
    if (unhandled > 0) {
      const why = this.#dead
        ? "the telemetry worker was gone"
        : `the sidecar did not finish within ${this.#options.exitTimeout} ms`;
      writeSync(2, `Telemetry: ${unhandled} events were not handled before exit (${why})\n`);
    }
  }

  #die(why: string): void {
    if (!this.#dead && this.#stopping === undefined) {
      writeSync(
        2,
        `Telemetry: the sidecar worker ended unexpectedly (${escapeControl(why)}); ` +
          `events not yet handled are counted as dropped\n`,
      );
    }
    this.#dead = true;
    this.#removeConsoleGuard();
    // Nothing can handle later events: refuse them at once (counted), without queueing or blocking.
    this.#producer.close();
    for (const callback of [...this.#onDeath]) callback();
  }

  #count(): {
    sent: number;
    handled: number;
    dropped: number;
    truncated: number;
    invalid: number;
    producers: ProducerReport[];
  } {
    let invalid = 0;
    let sent = 0;
    let handled = 0;
    let dropped = 0;
    let cut = 0;
    const producers = this.#producers.map((info): ProducerReport => {
      const refused = Atomics.load(info.slot, DROPPED) >>> 0;
      const accepted = Atomics.load(info.slot, SENT) >>> 0;
      const done = Atomics.load(info.slot, HANDLED) >>> 0;
      const lost = this.#dead ? accepted - done : 0;
      const truncated = Atomics.load(info.slot, TRUNCATED) >>> 0;
      cut += truncated;
      const refusedValues = Atomics.load(info.slot, INVALID) >>> 0;
      invalid += refusedValues;
      const report = {
        id: info.id,
        name: info.name,
        sent: accepted + refused,
        handled: done,
        dropped: refused + lost,
        truncated,
        invalid: refusedValues,
      };
      sent += report.sent;
      handled += report.handled;
      dropped += report.dropped;
      return report;
    });
    return { sent, handled, dropped, truncated: cut, invalid, producers };
  }
}

/**
 * Starts a telemetry sidecar: a worker that runs the sinks, off the calling thread.
 *
 * @example Send events and stop
 * ```ts
 * import { startTelemetry } from "@sidecar/telemetry";
 *
 * const telemetry = await startTelemetry({ sinks: [] });
 * for (let i = 0; i < 100; i++) telemetry.event(i);
 * const report = await telemetry.stop();
 * console.assert(report.handled === 100);
 * ```
 *
 * @param options Sinks, batch size and timeouts; see `TelemetryOptions`.
 * @returns The running telemetry, once the sidecar reported ready.
 * @throws {TypeError} When an option is invalid; the message names it.
 * @throws {Error} When the sidecar cannot load, fails to build a sink, or is not ready within `startTimeout`.
 */
export async function startTelemetry(options?: TelemetryOptions | null): Promise<Telemetry> {
  const startedAt = performance.now();
  const startTime = performance.timeOrigin + startedAt;
  const resolved = resolveOptions(options, SIDECAR_URL);
  let handle: WorkerHandle;
  try {
    handle = spawnWorker(resolved.workerUrl);
  } catch (error) {
    throw new Error(
      `Telemetry worker could not be created from ${resolved.workerUrl.href}: ${errorMessage(error)}`,
    );
  }
  const main: ProducerInfo = { id: 0, name: "main", slot: createSlot(), clock: createClock() };
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    // The sidecar answers on this port, as it answers flush() and stop(): that round trip is then warm.
    const { port1: ready, port2: readyReply } = new MessageChannel();
    const fail = (text: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ready.close();
      void handle.terminate();
      reject(new Error(text));
    };
    const timer = setTimeout(
      () =>
        fail(
          `Telemetry worker did not start within ${resolved.startTimeout} ms: check that ${resolved.workerUrl.href} ` +
            `is shipped and loads`,
        ),
      resolved.startTimeout,
    );
    ready.onmessage = (event: MessageEvent) => {
      if (settled || (event.data as SyncReply)?.kind !== "done") return;
      settled = true;
      clearTimeout(timer);
      ready.onmessage = null;
      ready.close();
      handle.unref();
      resolve();
    };
    handle.onMessage((data) => {
      const reply = data as FromSidecar;
      if (!settled && reply.kind === "fatal") fail(`Telemetry worker failed to start: ${reply.message}`);
    });
    handle.onError((error) =>
      fail(`Telemetry worker failed to load from ${resolved.workerUrl.href}: ${error.message}`)
    );
    handle.onExit(() => fail(`Telemetry worker exited before it was ready (${resolved.workerUrl.href})`));
    handle.post({
      kind: "init",
      startTime,
      metricsInterval: resolved.metricsInterval,
      maxLabelSets: resolved.maxLabelSets,
      sinks: resolved.sinks,
      producer: main,
      clock: main.clock,
      ready: readyReply,
    }, [readyReply]);
  });
  return new Telemetry(handle, resolved, main, startedAt);
}

/**
 * Stops a telemetry sidecar: the same as `telemetry.stop()`.
 *
 * @example Stop by function
 * ```ts
 * import { startTelemetry, stopTelemetry } from "@sidecar/telemetry";
 *
 * const telemetry = await startTelemetry({ sinks: [] });
 * telemetry.event(42);
 * const report = await stopTelemetry(telemetry);
 * console.assert(report.sent === 1);
 * ```
 *
 * @param telemetry The running telemetry.
 * @param options `timeout` in milliseconds.
 * @returns Exact counts of the run.
 */
export function stopTelemetry(telemetry: Telemetry, options?: StopOptions): Promise<StopReport> {
  return telemetry.stop(options);
}
