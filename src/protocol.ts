/**
 * The wire format between producers and the sidecar: message kinds, the batch shape and the layout of each
 * producer's shared counters. Both sides import this module and nothing else knows these shapes.
 *
 * @module
 */

import type { ResolvedOtlpOptions } from "./sinks/_otlp_options.ts";

/** Index of `sent` in a producer's counters: events accepted by `event()`, written by the producer. */
export const SENT = 0;
/** Index of `posted` in a producer's counters: events already posted in batches, written by the producer. */
export const POSTED = 1;
/** Index of `handled` in a producer's counters: events every sink has handled, written by the sidecar. */
export const HANDLED = 2;
/** Index of `dropped` in a producer's counters: events refused after stop or lost, written by the producer. */
export const DROPPED = 3;
/** Index of the doorbell: the sidecar sets it to ask a busy producer to post its buffer at its next event. */
export const BELL = 4;
/** Index of `truncated`: string events cut to `maxEventBytes`, written by the producer. */
export const TRUNCATED = 6;
/** Index of `errors`, in the main producer's counters only: sink and sidecar errors so far, written by the sidecar. */
export const ERRORS = 7;
/** Index of the stopped flag, in the main producer's counters only: set by the sidecar once a stop completed. */
export const STOPPED = 5;
/** Index of `invalid`: metric updates and records refused for a bad value, written by the producer. */
export const INVALID = 8;
/** Index of `defined`: metric handles this producer announced, written by the producer. */
export const DEFINED = 9;
/** Number of 32-bit slots per producer. */
export const SLOT_LENGTH = 10;

/**
 * Creates the shared counters of one producer. Counts wrap at 2^32; readers compare with `(a - b) | 0`, which is
 * exact while fewer than 2^31 events are in flight for one producer.
 */
export function createSlot(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(SLOT_LENGTH * Int32Array.BYTES_PER_ELEMENT));
}

/** How far count `a` is ahead of count `b`, with both wrapped to 32 bits. */
export function countDelta(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * The platform's message port: the web `MessagePort` where the DOM types are loaded (Deno, Bun, browsers), else
 * the one of `node:worker_threads`. Written through the `MessagePort` value, which every runtime has, so these
 * declarations compile with or without the DOM types, and a port passes to the platform's own `postMessage`.
 */
export type Port = (typeof MessagePort)["prototype"];

/** Options of one sink as they travel to the sidecar: plain, structured-cloneable data. */
export type SinkSpec =
  | { readonly kind: "console" }
  | { readonly kind: "ndjson"; readonly path: string }
  | { readonly kind: "custom"; readonly module: string; readonly export: string; readonly options: unknown }
  | { readonly kind: "otlp"; readonly options: ResolvedOtlpOptions }
  | { readonly kind: "report"; readonly path: string; readonly title: string; readonly slowestSpans: number }
  | PushgatewaySpec
  | ProgressSpec;

/** Options of the Pushgateway sink with their defaults applied; see `SinkOption` for each field. */
export interface PushgatewaySpec {
  readonly kind: "pushgateway";
  readonly url: string;
  readonly job: string;
  readonly grouping: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly interval: number;
  readonly timeout: number;
  readonly retries: number;
}

/** How the progress sink draws: in place on a terminal, as plain lines, or chosen by whether stderr is a terminal. */
export type ProgressMode = "auto" | "tty" | "plain";

/** The progress sink's options as they travel to the sidecar. */
export interface ProgressSpec {
  readonly kind: "progress";
  readonly mode: ProgressMode;
  /** Milliseconds between plain lines of one label (more come at every 10% step). */
  readonly plainInterval: number;
  /** Terminal width and height, read on the main thread: the sidecar's thread may not know them. */
  readonly columns: number;
  readonly rows: number;
  /** Shared with the main thread's console guard; see `TERMINAL_LOCK`. */
  readonly terminal: Int32Array;
}

/** Index of the terminal lock: 1 while a thread writes to the terminal the progress block is drawn on. */
export const TERMINAL_LOCK = 0;
/** Index of the number of lines the progress block takes on screen now; 0 when none is drawn. */
export const TERMINAL_DRAWN = 1;
/** Index of the open-line flag: 1 when the last write left the cursor mid-line, so no block is drawn under it. */
export const TERMINAL_OPEN_LINE = 2;

/** Creates the array through which the main thread's console and the progress sink take turns at the terminal. */
export function createTerminalShare(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
}

/** What the sidecar needs to start. */
export interface InitMessage {
  readonly kind: "init";
  /** When `startTelemetry()` was called, epoch milliseconds. */
  readonly startTime: number;
  /** Milliseconds between metric snapshots handed to sinks. */
  readonly metricsInterval: number;
  /** Distinct label sets per metric name before updates go to its overflow series. */
  readonly maxLabelSets: number;
  readonly clock: Int32Array;
  readonly sinks: readonly SinkSpec[];
  readonly producer: ProducerInfo;
  /**
   * Where to answer once the sinks are built: the same reply a flush gets, through the same code, so the first
   * `stop()` does not pay for a fresh worker's first port round trip.
   */
  readonly ready: Port;
}

/** Identity and counters of one producer, sent to the sidecar when the producer is created. */
export interface ProducerInfo {
  readonly id: number;
  readonly name: string;
  readonly slot: Int32Array;
  /** The run's clock tick, advanced by the sidecar every millisecond; see `createClock()`. */
  readonly clock: Int32Array;
}

/** How often, in milliseconds, the sidecar advances the clock tick while events flow. */
export const TICK_MS = 1;
/** Index of the tick in the clock. */
export const TICK = 0;
/** Index of the awake flag in the clock: 0 while the idle sidecar lets the tick rest, 1 while it ticks. */
export const AWAKE = 1;

/**
 * Creates the run's clock. Reading `performance.now()` costs 50-170 ns, more than everything else an event does,
 * so a producer reads it only when the tick has moved since its last read (and for the first event of a batch):
 * event times are taken on the sending thread, to about a millisecond. The sidecar ticks only while events flow;
 * a producer that finds it resting wakes it (`AWAKE`), so an idle run costs no CPU.
 */
export function createClock(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
}

/** `kinds[i]` of an event whose value is the number `numbers[i]` (typed arrays start zeroed). */
export const KIND_NUMBER = 0;
/** `kinds[i]` of an event whose value is the next entry of `others`. */
export const KIND_OTHER = 1;
/** `kinds[i]` of a log, span or progress record: the next entry of `others`. */
export const KIND_RECORD = 2;
/** `kinds[i]` of a histogram value `numbers[i]` is `KIND_SAMPLE + id`, `id` being the handle's metric id. */
export const KIND_SAMPLE = 16;

/**
 * `kinds[i]` of a flat object encoded by shape is `KIND_SHAPE + id`: its numbers and booleans are the next
 * entries of `fields`, its strings the next entries of `others`, in the shape's key order.
 */
export const KIND_SHAPE = 1 << 30;
/** A shape's field type: a number, read from `fields`. */
export const FIELD_NUMBER = 0;
/** A shape's field type: a string, read from `others`. */
export const FIELD_STRING = 1;
/** A shape's field type: a boolean, read from `fields` as 0 or 1. */
export const FIELD_BOOLEAN = 2;
/** Most keys a flat object may have to be encoded by shape. */
export const MAX_SHAPE_KEYS = 16;
/** Most shapes per producer; objects of later shapes are copied whole. */
export const MAX_SHAPES = 4096;

/** The keys and field types of flat objects, announced in the batch that first uses it. */
export interface Shape {
  readonly id: number;
  readonly keys: readonly string[];
  readonly types: readonly number[];
}

/** Where decoding stands in a batch's `fields` and `others`. */
export interface ShapeCursor {
  field: number;
  other: number;
}

/** Rebuilds one object of `shape` from the columns, advancing `cursor`. */
export function decodeShape(
  shape: Shape,
  fields: Float64Array,
  strings: readonly unknown[],
  cursor: ShapeCursor,
): Record<string, unknown> {
  const { keys, types } = shape;
  const value: Record<string, unknown> = {};
  for (let j = 0; j < keys.length; j++) {
    const type = types[j];
    value[keys[j]!] = type === FIELD_NUMBER
      ? fields[cursor.field++]
      : type === FIELD_STRING
      ? strings[cursor.other++]
      : fields[cursor.field++] === 1;
  }
  return value;
}

/**
 * Counter and gauge cells per shared block; a producer adds a block when its handles fill the last one. A block
 * holds twice as many numbers: the cells, then each gauge cell's version, bumped at every `set()`.
 */
export const CELLS_PER_BLOCK = 256;

/** State word of a batch's columns: the producer may write them. */
export const COLUMNS_FREE = 0;
/**
 * State word of a batch's columns: posted; the sidecar sets `COLUMNS_FREE` again once it has read them, one
 * producer's batches in the order they were posted (the producer looks only at its oldest posted buffer).
 */
export const COLUMNS_POSTED = 1;
/** Bytes before the columns: the state word, padded so the numbers stay 8-byte aligned. */
const COLUMNS_HEADER = 8;

/** The columns of a batch, laid out in one buffer: see `columnsBytes()`. */
export interface Columns {
  /** One word: `COLUMNS_FREE` or `COLUMNS_POSTED`. */
  readonly state: Int32Array;
  readonly numbers: Float64Array;
  readonly times: Float64Array;
  readonly kinds: Uint32Array;
}

/** Size of a columns buffer with room for `stride` entries: the state word, numbers, times, then kinds. */
export function columnsBytes(stride: number): number {
  return COLUMNS_HEADER + stride * 20;
}

/** The views of a columns buffer with room for `stride` entries. */
export function columnViews(buffer: ArrayBufferLike, stride: number): Columns {
  return {
    state: new Int32Array(buffer, 0, 1),
    numbers: new Float64Array(buffer, COLUMNS_HEADER, stride),
    times: new Float64Array(buffer, COLUMNS_HEADER + stride * 8, stride),
    kinds: new Uint32Array(buffer, COLUMNS_HEADER + stride * 16, stride),
  };
}

/**
 * A batch of events from one producer, in columns. The columns are one buffer (`columnViews()`): usually a
 * `SharedArrayBuffer` from the producer's pool, which the sidecar hands back through its state word once read, so
 * the columns are not copied, allocated or detached per batch; a copy when the pool has no free buffer. `kinds`
 * holds each entry's kind, `numbers` its number; other values, in order, are in `others`; `fields` (a
 * `Float64Array`'s buffer) the fields of objects encoded by shape. `times` holds `performance.now()` of the sending thread for each
 * event; adding `origin` (that thread's `performance.timeOrigin`) gives epoch milliseconds.
 */
export interface BatchMessage {
  readonly kind: "batch";
  readonly origin: number;
  readonly count: number;
  /** True when some entry is a record or a histogram value, not an event. */
  readonly mixed: boolean;
  /** The columns' buffer, with room for `stride` entries. */
  readonly columns: ArrayBufferLike;
  readonly stride: number;
  /** True when `columns` is the producer's: read it, then clear the kinds and set the state word free. */
  readonly pooled: boolean;
  /** Fields of objects encoded by shape. */
  readonly fields: ArrayBuffer;
  /** Shapes first used in this batch. */
  readonly shapes: readonly Shape[];
  readonly others: unknown[];
}

/** A `BatchMessage` with its columns as typed arrays. */
export interface BatchColumns extends Omit<BatchMessage, "fields"> {
  readonly kinds: Uint32Array;
  readonly numbers: Float64Array;
  readonly fields: Float64Array;
  readonly times: Float64Array;
  readonly state: Int32Array;
}

/** The typed-array views of a batch's columns. */
export function columnsOf(batch: BatchMessage): BatchColumns {
  const { state, kinds, numbers, times } = columnViews(batch.columns, batch.stride);
  return { ...batch, state, kinds, numbers, times, fields: new Float64Array(batch.fields) };
}

/** Hands a pooled batch's columns back to their producer, kinds cleared (a number's kind is 0 and never written). */
export function releaseColumns(batch: BatchColumns): void {
  if (!batch.pooled) return;
  batch.kinds.fill(0, 0, batch.count);
  Atomics.store(batch.state, 0, COLUMNS_FREE);
}

/**
 * A few events from one producer, as plain lists: what the end of a turn usually posts. Typed arrays cost several
 * microseconds per message to clone or move, more than a handful of events is worth.
 */
export interface ListMessage {
  readonly kind: "events";
  readonly origin: number;
  /** Each entry's kind, present only when some entry is a record or a histogram value. */
  readonly kinds?: number[];
  readonly values: unknown[];
  readonly times: number[];
}

/** Events as they travel: in columns when many, as lists when few. */
export type EventsMessage = BatchMessage | ListMessage;

/** The kind of a metric handle. */
export type MetricKind = "counter" | "gauge" | "histogram";

/**
 * A new metric handle, posted by its producer when the handle is made, before any of its updates. Counters and
 * gauges live in shared cells (`block`, sent with the first handle placed in it); histogram values travel in
 * batches as `KIND_SAMPLE + id`.
 */
export interface DefineMessage {
  readonly kind: "define";
  readonly id: number;
  readonly metric: MetricKind;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly unit: string;
  readonly description: string;
  /** Histogram bucket bounds, ascending. */
  readonly buckets?: readonly number[];
  /** A new block of cells, when this handle is the first in it. */
  readonly block?: Float64Array;
}

/** Batches with fewer events than this travel as a `ListMessage`. */
export const SMALL_BATCH = 64;

/** A new producer whose batches arrive on `port`; sent by `Telemetry.connect()`. */
export interface ConnectMessage {
  readonly kind: "connect";
  readonly producer: ProducerInfo;
  readonly port: Port;
}

/** What to do with a new event when `maxQueued` events are sent but not yet handled. */
export type OverflowPolicy = "drop" | "block";

/** How every producer of a run buffers, bounds and trims events. */
export interface ProducerConfig {
  /** Events per batch. */
  readonly batchSize: number;
  /** Events sent but not yet handled, per producer, before `overflow` applies. */
  readonly maxQueued: number;
  /** `"drop"`: refuse and count the new event; `"block"`: wait for the sidecar to catch up. */
  readonly overflow: OverflowPolicy;
  /** Strings longer than this many characters are cut, with a marker saying how much was cut. */
  readonly maxEventBytes: number;
}

/** The first message waiting on a connected port, read synchronously by `attachTelemetry()`. */
export interface WelcomeMessage {
  readonly kind: "welcome";
  readonly producer: ProducerInfo;
  readonly config: ProducerConfig;
}

/** A request that the sidecar answers on `reply` once every event sent before it was handled. */
export interface SyncMessage {
  /** `"ready"` is the first request, answered at start without calling any sink. */
  readonly kind: "flush" | "stop" | "ready";
  readonly reply: Port;
  readonly timeout: number;
}

/** Messages from producers and the main thread to the sidecar. */
export type ToSidecar = InitMessage | EventsMessage | DefineMessage | ConnectMessage | SyncMessage;

/** Messages from the sidecar to the thread that started it. */
export type FromSidecar = { readonly kind: "fatal"; readonly message: string };

/** Counts of one producer in a report. */
export interface ProducerReport {
  /** Producer id: 0 is the thread that called `startTelemetry()`. */
  readonly id: number;
  /** Name given to `connect()`, or `"main"`. */
  readonly name: string;
  /** Events accepted by `event()`. */
  readonly sent: number;
  /** Events every sink has handled. */
  readonly handled: number;
  /** Events refused (sent after stop or past `maxQueued`) or lost (the sidecar did not confirm them in time). */
  readonly dropped: number;
  /** String events cut to `maxEventBytes`; they are also counted as sent and handled. */
  readonly truncated: number;
  /** Metric updates and records refused for a bad value (a negative counter increment, a NaN). */
  readonly invalid: number;
}

/** Errors of one sink in a report. */
export interface SinkReport {
  /** The sink's kind, or the export name of a custom sink. */
  readonly name: string;
  /** How many calls of the sink threw or rejected. */
  readonly errors: number;
  /** The first error's message, if any. */
  readonly firstError?: string;
}

/** Exact counts at the end of a run, returned by `stop()`. */
export interface StopReport {
  /** Events accepted by `event()` on every producer. */
  readonly sent: number;
  /** Events every sink has handled. */
  readonly handled: number;
  /** Events refused (after stop, or past `maxQueued`), or sent but not confirmed by the sidecar in time. */
  readonly dropped: number;
  /** String events cut to `maxEventBytes`. */
  readonly truncated: number;
  /** Metric updates and records refused for a bad value (a negative counter increment, a NaN). */
  readonly invalid: number;
  /** Sink calls that threw or rejected. */
  readonly errors: number;
  /** Milliseconds from `startTelemetry()` to the end of `stop()`. */
  readonly durationMs: number;
  /** True when the sidecar answered; false when it timed out or died and the counts come from shared counters. */
  readonly confirmed: boolean;
  /** Counts per producer. */
  readonly producers: readonly ProducerReport[];
  /** Errors per sink. */
  readonly sinks: readonly SinkReport[];
}

/** The sidecar's answer to a flush or stop request. */
export interface SyncReply {
  readonly kind: "done";
  readonly sinks: readonly SinkReport[];
  readonly complete: boolean;
}
