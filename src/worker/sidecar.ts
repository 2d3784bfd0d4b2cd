import { writeSync } from "../runtime/stdio.ts";
import {
  AWAKE,
  type BatchColumns,
  BELL,
  columnsOf,
  countDelta,
  decodeShape,
  DEFINED,
  type DefineMessage,
  DROPPED,
  ERRORS,
  type EventsMessage,
  HANDLED,
  KIND_NUMBER,
  KIND_RECORD,
  KIND_SAMPLE,
  KIND_SHAPE,
  type ListMessage,
  POSTED,
  type ProducerInfo,
  releaseColumns,
  SENT,
  type Shape,
  type SinkReport,
  STOPPED,
  type SyncMessage,
  type SyncReply,
  TICK,
  TICK_MS,
} from "../protocol.ts";
import type { EventBatch, ProducerMeta, RunSummary, Sink, TelemetryRecord } from "../sinks/sink.ts";
import { escapeControl } from "../sinks/_format.ts";
import { MetricStore } from "./metric_store.ts";

// How long the clock keeps ticking after the last batch, while no producer holds unposted events.
const REST_AFTER_MS = 50;

/** A sink with its name and error counts. */
export interface NamedSink {
  readonly name: string;
  readonly sink: Sink;
}

interface SinkState extends NamedSink {
  errors: number;
  firstError?: string;
}

interface ProducerState {
  readonly meta: ProducerMeta;
  readonly slot: Int32Array;
  readonly port: MessagePort | undefined;
  /** Events received in batches, wrapped to 32 bits like the shared counters. */
  received: number;
  handled: number;
  /** Metric definitions received. */
  defined: number;
  /** Shapes of flat objects, by id, as announced in the batches. */
  readonly shapes: Shape[];
}

/** What the sidecar learns at start besides its sinks. */
export interface SidecarOptions {
  /** When the run started, epoch milliseconds. */
  readonly startTime: number;
  /** Milliseconds between metric snapshots for the sinks. */
  readonly metricsInterval: number;
  /** Distinct label sets per metric name. */
  readonly maxLabelSets: number;
}

/** The parts of one batch, split by kind. */
interface Split {
  readonly events: EventBatch;
  readonly records: TelemetryRecord[];
  readonly length: number;
}

interface Waiter {
  readonly targets: ReadonlyArray<readonly [ProducerState, number, number]>;
  readonly resolve: () => void;
}

/**
 * The receiving side: takes batches from every producer, hands them to each sink in arrival order, advances the
 * shared `handled` counters, and answers flush and stop requests once everything sent before them was handled.
 */
export class Sidecar {
  readonly #sinks: SinkState[];
  /** Errors thrown on the sidecar's thread outside any sink call, counted like a sink's. */
  readonly #stray: SinkState = { name: "sidecar", sink: { handle() {} }, errors: 0 };
  readonly #strayErrors = new WeakSet<object>();
  readonly #producers = new Map<number, ProducerState>();
  #waiters: Waiter[] = [];
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  #clock: ReturnType<typeof setInterval> | undefined;
  #clockArray: Int32Array | undefined;
  #batchSeen = false;
  readonly #options: SidecarOptions;
  readonly #metrics: MetricStore;
  readonly #metricSinks: SinkState[];
  #metricsTimer: ReturnType<typeof setInterval> | undefined;

  constructor(sinks: readonly NamedSink[], options: SidecarOptions) {
    this.#sinks = sinks.map((s) => ({ ...s, errors: 0 }));
    this.#options = options;
    this.#metrics = new MetricStore(options.maxLabelSets, (text) => writeSync(2, `${escapeControl(text)}\n`));
    this.#metricSinks = this.#sinks.filter((s) => typeof s.sink.metrics === "function");
    if (this.#metricSinks.length > 0) {
      this.#metricsTimer = setInterval(() => {
        if (this.#metrics.size > 0) void this.#enqueue(() => this.#sendMetrics(false));
      }, options.metricsInterval);
    }
  }

  /** Counts an error thrown outside any sink call (a sink's timer, say); the sidecar goes on. */
  strayError(error: unknown): void {
    if (typeof error === "object" && error !== null) {
      // Some runtimes report the same error both as a process event and as a scope event.
      if (this.#strayErrors.has(error)) return;
      this.#strayErrors.add(error);
    }
    this.#record(this.#stray, error);
  }

  /**
   * Advances the run's clock tick every `TICK_MS` while events flow; producers read the time when it moved. When no
   * batch arrived for `REST_AFTER_MS` and no producer holds unposted events, the tick rests (an idle sidecar costs no
   * CPU) until a producer's next event wakes it.
   */
  startClock(clock: Int32Array): void {
    this.#clockArray = clock;
    this.#wakeClock();
  }

  #wakeClock(): void {
    const clock = this.#clockArray;
    if (clock === undefined || this.#stopped || this.#clock !== undefined) return;
    Atomics.store(clock, AWAKE, 1);
    let quiet = 0;
    this.#clock = setInterval(() => {
      Atomics.add(clock, TICK, 1);
      quiet = this.#batchSeen ? 0 : quiet + TICK_MS;
      this.#batchSeen = false;
      if (quiet >= REST_AFTER_MS && !this.#anyBuffered()) this.#restClock(clock);
    }, TICK_MS);
  }

  #restClock(clock: Int32Array): void {
    clearInterval(this.#clock);
    this.#clock = undefined;
    Atomics.store(clock, AWAKE, 0);
    // Producers read AWAKE only when the tick moves: move it, after the store, so their next entry looks.
    Atomics.add(clock, TICK, 1);
    // An event between the check above and this store saw AWAKE still 1: look once more.
    if (this.#anyBuffered()) return this.#wakeClock();
    const waiting = Atomics.waitAsync(clock, AWAKE, 0);
    if (waiting.async) void waiting.value.then(() => this.#wakeClock());
    else this.#wakeClock();
  }

  #anyBuffered(): boolean {
    for (const p of this.#producers.values()) {
      if (countDelta(Atomics.load(p.slot, SENT), Atomics.load(p.slot, POSTED)) > 0) return true;
    }
    return false;
  }

  /** Registers a producer; its batches come through `port`, or through `receive()` when it has none. */
  addProducer(info: ProducerInfo, port?: MessagePort): void {
    const state: ProducerState = {
      meta: { id: info.id, name: info.name },
      slot: info.slot,
      port,
      received: 0,
      handled: 0,
      defined: 0,
      shapes: [],
    };
    this.#producers.set(info.id, state);
    if (port) {
      port.onmessage = (event: MessageEvent) => {
        const data = event.data as EventsMessage | DefineMessage;
        if (data?.kind === "batch" || data?.kind === "events") this.#receive(state, data);
        else if (data?.kind === "define") this.#define(state, data);
      };
    }
  }

  /** Takes a batch that arrived on the control channel from producer `id`. */
  receive(id: number, batch: EventsMessage): void {
    const state = this.#producers.get(id);
    if (state) this.#receive(state, batch);
  }

  /** Takes a metric definition that arrived on the control channel from producer `id`. */
  define(id: number, message: DefineMessage): void {
    const state = this.#producers.get(id);
    if (state) this.#define(state, message);
  }

  #define(state: ProducerState, message: DefineMessage): void {
    if (this.#stopped) return;
    this.#metrics.define(state.meta.id, message);
    state.defined = (state.defined + 1) | 0;
    if (this.#waiters.length > 0) this.#checkWaiters();
  }

  /** Answers a flush or stop request on its reply port once every event sent before it was handled. */
  async sync(request: SyncMessage): Promise<void> {
    if (this.#stopped) {
      // A second stop (the exit drain after a stop the program started, say): the sinks are closed already.
      request.reply.postMessage(
        { kind: "done", sinks: this.#sinkReports(), complete: true } satisfies SyncReply,
      );
      request.reply.close();
      return;
    }
    const stop = request.kind === "stop";
    const callSinks = request.kind !== "ready";
    const endTime = performance.timeOrigin + performance.now();
    const started = performance.now();
    // What is left of the request's time: the sinks' close() should end within it, with room for the answer.
    const left = () => Math.max(0, request.timeout * 0.9 - (performance.now() - started));
    const complete = await this.#caughtUp(request.timeout);
    await this.#enqueue(async () => {
      if (!callSinks) return;
      if (stop) clearInterval(this.#metricsTimer);
      if (stop || this.#metrics.size > 0) await this.#sendMetrics(stop);
      if (stop) {
        // close() finishes what flush() would: calling both would spend a waiting sink's budget twice.
        const summary = this.#summary(endTime, performance.timeOrigin + performance.now() + left());
        // Side by side: each sink gets the whole budget, and a slow one does not cut the others short.
        await Promise.all(this.#sinks.map((s) => this.#call(s, s.sink.close ? "close" : "flush", summary)));
      } else {
        for (const s of this.#sinks) await this.#call(s, "flush");
      }
    });
    if (stop) {
      this.#stopped = true;
      clearInterval(this.#clock);
      this.#clock = undefined;
      for (const p of this.#producers.values()) p.port?.close();
    }
    const reply: SyncReply = { kind: "done", sinks: this.#sinkReports(), complete };
    request.reply.postMessage(reply);
    request.reply.close();
    if (stop) {
      // The main thread may be blocked in its exit drain, where no message reaches it: wake it through memory.
      const main = this.#producers.get(0);
      if (main) {
        Atomics.store(main.slot, STOPPED, 1);
        Atomics.notify(main.slot, STOPPED);
      }
    }
  }

  #receive(state: ProducerState, batch: EventsMessage): void {
    if (this.#stopped) return;
    const split = this.#split(state, batch);
    state.received = (state.received + split.length) | 0;
    this.#batchSeen = true;
    this.#enqueue(() => this.#handle(state, split));
    if (this.#waiters.length > 0) this.#checkWaiters();
  }

  /** Events go to `handle()`, records to `records()`; histogram values are aggregated here and now. */
  #split(state: ProducerState, message: EventsMessage): Split {
    if (message.kind !== "batch") return this.#splitBatch(state, message);
    const batch = columnsOf(message);
    try {
      return this.#splitBatch(state, batch);
    } finally {
      // What the sinks get was copied out: the producer may write these columns again.
      releaseColumns(batch);
    }
  }

  #splitBatch(state: ProducerState, batch: BatchColumns | ListMessage): Split {
    return batch.kind === "batch" ? this.#splitColumns(state, batch) : this.#splitList(state, batch);
  }

  #splitColumns(state: ProducerState, batch: BatchColumns): Split {
    const meta = state.meta;
    for (const shape of batch.shapes) state.shapes[shape.id] = shape;
    if (!batch.mixed) {
      const events = fromColumns(meta, batch, state.shapes);
      return { events, records: [], length: events.length };
    }
    const { count, kinds, numbers, fields, others, origin } = batch;
    const values: unknown[] = [];
    const times: number[] = [];
    const records: TelemetryRecord[] = [];
    const histograms = this.#metrics.histograms(meta.id);
    const cursor = { field: 0, other: 0 };
    let i = 0;
    while (i < count) {
      const kind = kinds[i]!;
      if (kind >= KIND_SAMPLE && kind < KIND_SHAPE) {
        // Values of one histogram usually come in runs: recorded together.
        let end = i + 1;
        while (end < count && kinds[end] === kind) end++;
        histograms[kind - KIND_SAMPLE]?.recordAll(numbers, i, end);
        i = end;
        continue;
      }
      if (kind === KIND_RECORD) records.push(asRecord(others[cursor.other++], meta));
      else {
        values.push(
          kind === KIND_NUMBER
            ? numbers[i]
            : kind >= KIND_SHAPE
            ? decodeShape(state.shapes[kind - KIND_SHAPE]!, fields, others, cursor)
            : others[cursor.other++],
        );
        times.push(batch.times[i]! + origin);
      }
      i++;
    }
    return mixedSplit(meta, values, times, records, count);
  }

  #splitList(state: ProducerState, batch: ListMessage): Split {
    const meta = state.meta;
    const kinds = batch.kinds;
    if (kinds === undefined) {
      const events = fromList(meta, batch);
      return { events, records: [], length: events.length };
    }
    const count = batch.values.length;
    const values: unknown[] = [];
    const times: number[] = [];
    const records: TelemetryRecord[] = [];
    const histograms = this.#metrics.histograms(meta.id);
    for (let i = 0; i < count; i++) {
      const kind = kinds[i]!;
      const value = batch.values[i];
      if (kind >= KIND_SAMPLE) histograms[kind - KIND_SAMPLE]?.record(value as number);
      else if (kind === KIND_RECORD) records.push(asRecord(value, meta));
      else {
        values.push(value);
        times.push(batch.times[i]! + batch.origin);
      }
    }
    return mixedSplit(meta, values, times, records, count);
  }

  async #handle(state: ProducerState, split: Split): Promise<void> {
    const { events, records } = split;
    for (const s of this.#sinks) {
      if (events.length > 0 && s.sink.handle) await this.#call(s, "handle", events);
      if (records.length > 0 && s.sink.records) await this.#call(s, "records", records);
    }
    state.handled = (state.handled + split.length) | 0;
    Atomics.store(state.slot, HANDLED, state.handled);
    Atomics.notify(state.slot, HANDLED);
  }

  async #sendMetrics(final: boolean): Promise<void> {
    if (this.#metricSinks.length === 0) return;
    const snapshot = this.#metrics.snapshot(this.#options.startTime, final);
    for (const s of this.#metricSinks) await this.#call(s, "metrics", snapshot);
  }

  #summary(endTime: number, deadline: number): RunSummary {
    return {
      startTime: this.#options.startTime,
      endTime,
      deadline,
      producers: [...this.#producers.values()].map((p) => ({
        name: p.meta.name,
        sent: (Atomics.load(p.slot, SENT) >>> 0) + (Atomics.load(p.slot, DROPPED) >>> 0),
        handled: Atomics.load(p.slot, HANDLED) >>> 0,
        dropped: Atomics.load(p.slot, DROPPED) >>> 0,
      })),
      sinks: this.#sinkReports(),
    };
  }

  async #call(
    s: SinkState,
    method: "handle" | "records" | "metrics" | "flush" | "close",
    argument?: unknown,
  ): Promise<void> {
    try {
      // deno-lint-ignore no-explicit-any
      await (s.sink[method] as ((arg: any) => unknown) | undefined)?.call(s.sink, argument);
    } catch (error) {
      this.#record(s, error);
    }
  }

  #record(s: SinkState, error: unknown): void {
    s.errors++;
    const main = this.#producers.get(0);
    if (main) Atomics.add(main.slot, ERRORS, 1);
    if (s.firstError !== undefined) return;
    s.firstError = escapeControl(error instanceof Error ? error.message : String(error));
    const where = s === this.#stray
      ? "Telemetry sidecar error outside a sink call"
      : `Telemetry sink ${s.name} failed`;
    writeSync(2, `${where}: ${s.firstError} (later errors are counted in the stop report)\n`);
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    // A task that fails is counted as an error of the sidecar; the tasks after it still run.
    this.#chain = this.#chain.then(task).catch((error) => this.strayError(error));
    return this.#chain;
  }

  /** Resolves true once every producer's batches up to its current `sent` count arrived, false on timeout. */
  #caughtUp(timeout: number): Promise<boolean> {
    const targets: Array<readonly [ProducerState, number, number]> = [];
    let rung = false;
    for (const p of this.#producers.values()) {
      const sent = Atomics.load(p.slot, SENT);
      const defined = Atomics.load(p.slot, DEFINED);
      if (countDelta(sent, p.received) <= 0 && countDelta(defined, p.defined) <= 0) continue;
      targets.push([p, sent, defined]);
      // Events still in a busy producer's buffer: ask it to post them at its next event.
      if (countDelta(sent, Atomics.load(p.slot, POSTED)) > 0) {
        Atomics.store(p.slot, BELL, 1);
        rung = true;
      }
    }
    // Producers read the doorbell only when the tick moves: move it.
    if (rung && this.#clockArray !== undefined) Atomics.add(this.#clockArray, TICK, 1);
    if (targets.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeout);
      const waiter: Waiter = {
        targets,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #checkWaiters(): void {
    this.#waiters = this.#waiters.filter((w) => {
      const done = w.targets.every(([p, sent, defined]) =>
        countDelta(sent, p.received) <= 0 && countDelta(defined, p.defined) <= 0
      );
      if (done) w.resolve();
      return !done;
    });
  }

  #sinkReports(): SinkReport[] {
    const all = this.#stray.errors > 0 ? [...this.#sinks, this.#stray] : this.#sinks;
    return all.map((s) =>
      s.firstError === undefined
        ? { name: s.name, errors: s.errors }
        : { name: s.name, errors: s.errors, firstError: s.firstError }
    );
  }
}

function fromColumns(producer: ProducerMeta, batch: BatchColumns, shapes: readonly Shape[]): EventBatch {
  const { count, origin, kinds, numbers, fields, others, times } = batch;
  const values = new Array<unknown>(count);
  const cursor = { field: 0, other: 0 };
  for (let i = 0; i < count; i++) {
    const kind = kinds[i]!;
    values[i] = kind === KIND_NUMBER
      ? numbers[i]
      : kind >= KIND_SHAPE
      ? decodeShape(shapes[kind - KIND_SHAPE]!, fields, others, cursor)
      : others[cursor.other++];
  }
  // A copy: the columns go back to the producer once the batch is split.
  const epoch = times.slice(0, count);
  for (let i = 0; i < count; i++) epoch[i]! += origin;
  return { producer, length: count, values, times: epoch };
}

function fromList(producer: ProducerMeta, batch: ListMessage): EventBatch {
  const times = Float64Array.from(batch.times);
  for (let i = 0; i < times.length; i++) times[i]! += batch.origin;
  return { producer, length: batch.values.length, values: batch.values, times };
}

/** A record as it arrived, completed with its producer (and, for progress, the default label). */
function asRecord(value: unknown, producer: ProducerMeta): TelemetryRecord {
  const record = value as { producer?: ProducerMeta; type: string; label?: string };
  record.producer = producer;
  if (record.type === "progress" && record.label === undefined) record.label = producer.name;
  return record as TelemetryRecord;
}

/** A mixed batch's parts once split: its events (with their times) and its records, `count` entries in all. */
function mixedSplit(
  meta: ProducerMeta,
  values: unknown[],
  times: number[],
  records: TelemetryRecord[],
  count: number,
): Split {
  const events: EventBatch = {
    producer: meta,
    length: values.length,
    values,
    times: Float64Array.from(times),
  };
  return { events, records, length: count };
}
