import {
  AWAKE,
  type BatchMessage,
  BELL,
  type Columns,
  COLUMNS_FREE,
  COLUMNS_POSTED,
  columnsBytes,
  columnViews,
  countDelta,
  DEFINED,
  type DefineMessage,
  DROPPED,
  type EventsMessage,
  HANDLED,
  INVALID,
  KIND_NUMBER,
  KIND_OTHER,
  KIND_RECORD,
  KIND_SHAPE,
  type ListMessage,
  MAX_SHAPE_KEYS,
  POSTED,
  type ProducerConfig,
  type ProducerInfo,
  SENT,
  SMALL_BATCH,
  TICK,
  TRUNCATED,
} from "../protocol.ts";
import { writeSync } from "../runtime/stdio.ts";
import { snapshot, type SnapshotLimits } from "./snapshot.ts";
import { ShapeEncoder } from "./shapes.ts";

const NO_FIELDS = new Float64Array(0);

// Memory a producer's pool of column buffers may take; past it (a sidecar far behind), batches travel as copies.
const POOL_BYTES = 4 * 2 ** 20;

// How long a blocked sender waits without the sidecar handling anything before it drops the event instead.
const BLOCK_STALL_MS = 1_000;

/** Wakes the resting clock: rare (once per idle period), so kept out of `event()`. */
function wake(clock: Int32Array): void {
  Atomics.store(clock, AWAKE, 1);
  Atomics.notify(clock, AWAKE);
}

/** Sends one message to the sidecar, transferring the listed buffers. */
export type PostBatch = (message: EventsMessage | DefineMessage, transfer: readonly unknown[]) => void;

/**
 * The sending side of one thread: buffers events in columns and posts them to the sidecar in batches.
 *
 * The hot path only stores into typed arrays and bumps the shared `sent` counter. A batch is posted when the buffer
 * is full, when the sidecar rings the doorbell, and from a microtask after the first buffered event of a turn, so an
 * idle thread never holds events.
 */
export class Producer {
  readonly info: ProducerInfo;
  readonly #slot: Int32Array;
  readonly #clock: Int32Array;
  readonly #post: PostBatch;
  readonly #capacity: number;
  readonly #config: ProducerConfig;
  readonly #limits: SnapshotLimits;
  readonly #flushTask = (): void => {
    this.#scheduled = false;
    this.post();
  };
  /** The columns being written: a buffer of the pool, whose state word stays free while this producer holds it. */
  #columns: Columns;
  #kinds: Uint32Array;
  #numbers: Float64Array;
  #times: Float64Array;
  /**
   * Posted column buffers, in memory shared with the sidecar, oldest first from `#oldest`. The sidecar reads one
   * producer's batches in the order they were posted and frees each once read, so when the oldest is not free, no
   * other is: taking a buffer looks at one state word, however many are posted.
   */
  #posted: Columns[] = [];
  #oldest = 0;
  /** Column buffers made so far, at most `#poolSize`. */
  #poolCount = 0;
  readonly #poolSize: number;
  #others: unknown[] = [];
  /** Fields of objects encoded by shape; made at the first such object. */
  #fields: Float64Array<ArrayBuffer> = NO_FIELDS;
  #fieldLength = 0;
  /** Past this many fields, an object event first posts the batch so its fields fit. */
  #fieldRoom = Infinity;
  readonly #shapes: ShapeEncoder;
  /** Where a flat object's fields and strings are read to before they enter the buffer. */
  readonly #scratchFields = new Float64Array(MAX_SHAPE_KEYS);
  readonly #scratchStrings: unknown[] = Array.from({ length: MAX_SHAPE_KEYS }, () => undefined);
  /** Values being read now: above 0, the caller's code is running inside an `event()`. */
  #reading = 0;
  #length = 0;
  #sent = 0;
  #dropped = 0;
  #truncated = 0;
  #invalid = 0;
  #defined = 0;
  /** Some buffered entry is a record or a histogram value. */
  #mixed = false;
  /** `sent` at which the queue bound must be checked again: below it there is room without looking. */
  #checkAt: number;
  #warned = false;
  /** The handled count at which blocking gave up; blocking resumes once the sidecar moves past it. */
  #stalledAt = -1;
  #tick = -1;
  #now = 0;
  /** Index of the entry after which the batch posts: the last slot, or the next entry once the doorbell rang. */
  #postAt: number;
  #scheduled = false;
  #closed = false;

  constructor(info: ProducerInfo, post: PostBatch, config: ProducerConfig) {
    this.info = info;
    this.#slot = info.slot;
    this.#clock = info.clock;
    this.#post = post;
    this.#config = config;
    this.#capacity = config.batchSize;
    this.#checkAt = config.maxQueued;
    this.#postAt = this.#capacity - 1;
    this.#limits = { maxChars: config.maxEventBytes, cut: (text) => this.#cut(text) };
    this.#poolSize = Math.max(2, Math.floor(POOL_BYTES / columnsBytes(this.#capacity)));
    this.#columns = this.#newColumns();
    this.#kinds = this.#columns.kinds;
    this.#numbers = this.#columns.numbers;
    this.#times = this.#columns.times;
    this.#shapes = new ShapeEncoder(config.maxEventBytes);
  }

  /** Events accepted so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Events refused because the producer was closed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Buffers one event; never throws. */
  event(value: unknown): void {
    // A closed producer keeps `#checkAt` at -Infinity, so this one comparison also refuses after close().
    if (this.#sent >= this.#checkAt && !this.#admit()) return this.#drop();
    if (typeof value !== "number") return this.#eventOther(value);
    const i = this.#length;
    const tick = this.#clock[TICK]!;
    if (tick !== this.#tick || i === 0) this.#look(tick, i);
    this.#times[i] = this.#now;
    this.#numbers[i] = value;
    this.#length = i + 1;
    this.#slot[SENT] = ++this.#sent;
    if (i >= this.#postAt) this.post();
  }

  /**
   * The slow part of an entry, run at the first entry of a batch and when the clock tick moved: reads the time,
   * wakes a resting sidecar, answers the doorbell (the sidecar moves the tick when it rings), and schedules the
   * end-of-turn post. Everything else an entry does is a few stores.
   */
  #look(tick: number, i: number): void {
    this.#tick = tick;
    this.#now = performance.now();
    const clock = this.#clock;
    if (clock[AWAKE] === 0) wake(clock);
    // Post once this entry is stored.
    if (this.#slot[BELL] !== 0) this.#postAt = i;
    if (i === 0 && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** `event()` of anything but a number: kept out of `event()` so that it stays small enough to inline. */
  #eventOther(value: unknown): void {
    // Reading the value may run the caller's code (getters, proxies), which may send events or stop telemetry
    // itself: the value is read into scratch space first, and the buffer is touched only after.
    const nested = this.#reading++ > 0;
    const fields = nested ? new Float64Array(MAX_SHAPE_KEYS) : this.#scratchFields;
    const strings: unknown[] = nested ? [] : this.#scratchStrings;
    let shape = -1;
    let copy: unknown;
    try {
      if (typeof value === "object" && value !== null) shape = this.#shapes.encode(value, fields, 0, strings);
      if (shape < 0) {
        // Copied now: the caller may change the object after this call, and the copy always clones. An object
        // the shape walk gave up on is copied as it was read, so no getter runs twice.
        const read = this.#shapes.read;
        this.#shapes.read = undefined;
        copy = snapshot(read ?? value, this.#limits);
      }
    } finally {
      this.#reading--;
    }
    if (this.#closed) {
      if (shape >= 0) {
        for (let k = 0, count = this.#shapes.stringCount; k < count; k++) strings[k] = undefined;
      }
      return this.#drop();
    }
    const width = shape < 0 ? 0 : this.#shapes.end;
    if (width > 0 && this.#fieldLength > this.#fieldRoom) this.post();
    const i = this.#length;
    const tick = this.#clock[TICK]!;
    if (tick !== this.#tick || i === 0) this.#look(tick, i);
    this.#times[i] = this.#now;
    if (shape >= 0) {
      this.#kinds[i] = KIND_SHAPE + shape;
      if (width > 0) {
        const into = this.#fieldsFor();
        const at = this.#fieldLength;
        for (let k = 0; k < width; k++) into[at + k] = fields[k]!;
        this.#fieldLength = at + width;
      }
      const others = this.#others;
      for (let k = 0, count = this.#shapes.stringCount; k < count; k++) {
        others.push(strings[k]);
        strings[k] = undefined; // not kept alive by the scratch space
      }
    } else {
      this.#kinds[i] = KIND_OTHER;
      this.#others.push(copy);
    }
    this.#length = i + 1;
    this.#slot[SENT] = ++this.#sent;
    if (i >= this.#postAt) this.post();
  }

  /**
   * Buffers one histogram value of the handle whose kind code is `kind` (`KIND_SAMPLE + id`). The value was checked
   * by the handle; it takes the time of the batch's last clock reading.
   */
  sample(kind: number, value: number): void {
    if (this.#sent >= this.#checkAt && !this.#admit()) return this.#drop();
    const i = this.#length;
    const tick = this.#clock[TICK]!;
    if (tick !== this.#tick || i === 0) this.#look(tick, i);
    this.#kinds[i] = kind;
    this.#numbers[i] = value;
    this.#times[i] = this.#now;
    this.#mixed = true;
    this.#length = i + 1;
    this.#slot[SENT] = ++this.#sent;
    if (i >= this.#postAt) this.post();
  }

  /** Buffers a log, span or progress record, already a plain cloneable object. */
  record(value: object): void {
    if (this.#sent >= this.#checkAt && !this.#admit()) return this.#drop();
    const i = this.#length;
    const tick = this.#clock[TICK]!;
    if (tick !== this.#tick || i === 0) this.#look(tick, i);
    this.#kinds[i] = KIND_RECORD;
    this.#others.push(value);
    this.#times[i] = performance.now();
    this.#mixed = true;
    this.#length = i + 1;
    this.#slot[SENT] = ++this.#sent;
    if (i >= this.#postAt) this.post();
  }

  /** Copies a record's value by the event rules and limits (strings past `maxEventBytes` cut and counted). */
  copy(value: unknown): unknown {
    return snapshot(value, this.#limits);
  }

  /** Announces a metric handle to the sidecar, ahead of its updates; counted so `stop()` waits for it. */
  define(message: DefineMessage): void {
    if (this.#closed) return;
    try {
      this.#post(message, []);
    } catch {
      return; // The sidecar is gone; its updates are lost with it.
    }
    this.#slot[DEFINED] = ++this.#defined;
  }

  /** Counts a metric update or record refused for its value. */
  invalid(): void {
    this.#slot[INVALID] = ++this.#invalid;
  }

  #fieldsFor(): Float64Array {
    if (this.#fields === NO_FIELDS) {
      // Room for four numeric fields per event on average; an event past it posts the batch first.
      this.#fields = new Float64Array(this.#capacity * 4 + MAX_SHAPE_KEYS);
      this.#fieldRoom = this.#capacity * 4;
    }
    return this.#fields;
  }

  /** Posts the buffered events now, if any. */
  post(): void {
    if (this.#slot[BELL] !== 0) Atomics.store(this.#slot, BELL, 0);
    this.#postAt = this.#capacity - 1;
    const count = this.#length;
    if (count === 0) return;
    const others = this.#others;
    const mixed = this.#mixed;
    const fields = this.#fieldLength;
    this.#others = [];
    this.#length = 0;
    this.#mixed = false;
    this.#fieldLength = 0;
    try {
      if (count < SMALL_BATCH) this.#postList(count, others, mixed);
      else this.#postColumns(count, others, mixed, fields);
    } catch {
      // Snapshots always clone, so this is the channel itself failing (the sidecar died, or its port was closed).
      // The events stay counted as sent and not handled, which the report shows as lost.
    }
    this.#slot[POSTED] = this.#sent;
  }

  /** A few events (the end of a turn): plain lists; the buffers stay for the next ones. */
  #postList(count: number, others: unknown[], mixed: boolean): void {
    const kinds = this.#kinds;
    const numbers = this.#numbers;
    const values = new Array<unknown>(count);
    const times = new Array<number>(count);
    const cursor = { field: 0, other: 0 };
    for (let i = 0; i < count; i++) {
      const kind = kinds[i]!;
      if (kind >= KIND_SHAPE) {
        // Few events: rebuilt here as plain objects, so the sidecar need not know the shape yet.
        values[i] = this.#shapes.decode(kind - KIND_SHAPE, this.#fields, others, cursor);
        if (mixed) kinds[i] = KIND_OTHER;
      } else values[i] = kind === KIND_OTHER || kind === KIND_RECORD ? others[cursor.other++] : numbers[i];
      times[i] = this.#times[i]!;
    }
    const message: ListMessage = mixed
      ? {
        kind: "events",
        origin: performance.timeOrigin,
        kinds: Array.from(kinds.subarray(0, count)),
        values,
        times,
      }
      : { kind: "events", origin: performance.timeOrigin, values, times };
    kinds.fill(KIND_NUMBER, 0, count);
    this.#post(message, []);
  }

  /**
   * Many events: the columns. They go as they are, the producer taking a free buffer of its pool for the next
   * events; with none free and the pool at its size, as a copy. Nothing is transferred: a detached buffer would make
   * V8 check every typed-array access of the program for detachment from then on.
   */
  #postColumns(count: number, others: unknown[], mixed: boolean, fieldLength: number): void {
    const next = this.#freeColumns();
    const current = this.#columns;
    let columns: ArrayBufferLike;
    let stride: number;
    if (next !== undefined) {
      Atomics.store(current.state, 0, COLUMNS_POSTED);
      this.#posted.push(current);
      columns = current.state.buffer;
      stride = this.#capacity;
      this.#columns = next;
      this.#kinds = next.kinds;
      this.#numbers = next.numbers;
      this.#times = next.times;
    } else {
      stride = count;
      columns = new ArrayBuffer(columnsBytes(count));
      const copy = columnViews(columns, count);
      copy.numbers.set(current.numbers.subarray(0, count));
      copy.times.set(current.times.subarray(0, count));
      copy.kinds.set(current.kinds.subarray(0, count));
      current.kinds.fill(KIND_NUMBER, 0, count);
    }
    const fields = fieldLength > 0 ? this.#fields.slice(0, fieldLength).buffer : new ArrayBuffer(0);
    const shapes = this.#shapes.fresh;
    if (shapes.length > 0) this.#shapes.fresh = [];
    const message: BatchMessage = {
      kind: "batch",
      origin: performance.timeOrigin,
      count,
      mixed,
      columns,
      stride,
      pooled: next !== undefined,
      fields,
      shapes,
      others,
    };
    try {
      this.#post(message, []);
    } catch (error) {
      // The batch never left: its buffer is free again, with kinds cleared as the sidecar would have.
      if (next !== undefined) {
        current.kinds.fill(KIND_NUMBER, 0, count);
        Atomics.store(current.state, 0, COLUMNS_FREE);
      }
      throw error;
    }
  }

  /** The oldest posted buffer once the sidecar has freed it, or a new one while the pool is below its size. */
  #freeColumns(): Columns | undefined {
    const posted = this.#posted;
    const oldest = posted[this.#oldest];
    if (oldest !== undefined && Atomics.load(oldest.state, 0) === COLUMNS_FREE) {
      this.#oldest++;
      if (this.#oldest === posted.length) {
        posted.length = 0;
        this.#oldest = 0;
      } else if (this.#oldest >= 64 && this.#oldest * 2 >= posted.length) {
        // The sidecar stays behind by a few batches: drop the taken entries so the list does not grow.
        this.#posted = posted.slice(this.#oldest);
        this.#oldest = 0;
      }
      return oldest;
    }
    return this.#poolCount < this.#poolSize ? this.#newColumns() : undefined;
  }

  #newColumns(): Columns {
    this.#poolCount++;
    return columnViews(new SharedArrayBuffer(columnsBytes(this.#capacity)), this.#capacity);
  }

  /** Posts what is buffered and refuses later events, counting them as dropped. */
  close(): void {
    if (this.#closed) return;
    this.post();
    this.#closed = true;
    this.#checkAt = -Infinity;
  }

  /**
   * The queue bound was reached at the last look: look again. With room, move the next look to where the bound
   * can be reached again; without, wait for the sidecar (`"block"`) or refuse the event (`"drop"`).
   */
  #admit(): boolean {
    if (this.#closed) return false;
    const max = this.#config.maxQueued;
    let handled = Atomics.load(this.#slot, HANDLED);
    let queued = countDelta(this.#sent, handled);
    if (queued >= max && this.#config.overflow === "block" && handled !== this.#stalledAt) {
      this.post();
      let stalled = 0;
      while (queued >= max && stalled < BLOCK_STALL_MS) {
        const before = handled;
        const started = performance.now();
        try {
          Atomics.wait(this.#slot, HANDLED, handled, 50);
        } catch {
          break; // This thread may not block (a browser's main thread): drop instead.
        }
        handled = Atomics.load(this.#slot, HANDLED);
        queued = countDelta(this.#sent, handled);
        stalled = handled === before ? stalled + performance.now() - started : 0;
      }
      // The sidecar handled nothing for a while: drop, without waiting again, until it makes progress.
      if (queued >= max) this.#stalledAt = handled;
    }
    if (queued < max) {
      this.#checkAt = this.#sent + (max - queued);
      return true;
    }
    if (!this.#warned) {
      this.#warned = true;
      writeSync(
        2,
        `Telemetry: ${this.info.name} has ${queued} events waiting for the sidecar (maxQueued ${max}); ` +
          `new events are dropped and counted until it catches up\n`,
      );
    }
    return false;
  }

  #cut(text: string): string {
    this.#truncated++;
    this.#slot[TRUNCATED] = this.#truncated;
    let keep = this.#config.maxEventBytes;
    // Never split a surrogate pair: the kept text stays valid Unicode.
    const last = text.charCodeAt(keep - 1);
    if (last >= 0xd800 && last <= 0xdbff) keep--;
    return `${text.slice(0, keep)}…[truncated: ${text.length - keep} of ${text.length} characters cut]`;
  }

  #drop(): void {
    this.#dropped++;
    this.#slot[DROPPED] = this.#dropped;
  }
}
