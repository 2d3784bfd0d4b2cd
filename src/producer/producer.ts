import {
  type BatchMessage,
  BELL,
  DROPPED,
  KIND_OTHER,
  POSTED,
  type ProducerInfo,
  SENT,
} from "../protocol.ts";
import { toCloneable } from "./cloneable.ts";

/** Sends one message to the sidecar, transferring the listed buffers. */
export type PostBatch = (message: BatchMessage, transfer: Transferable[]) => void;

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
  readonly #flushTask = (): void => {
    this.#scheduled = false;
    this.post();
  };
  #kinds: Uint8Array<ArrayBuffer>;
  #numbers: Float64Array<ArrayBuffer>;
  #times: Float64Array<ArrayBuffer>;
  #others: unknown[] = [];
  #length = 0;
  #sent = 0;
  #dropped = 0;
  #tick = -1;
  #now = 0;
  #scheduled = false;
  #closed = false;

  constructor(info: ProducerInfo, post: PostBatch, batchSize: number) {
    this.info = info;
    this.#slot = info.slot;
    this.#clock = info.clock;
    this.#post = post;
    this.#capacity = batchSize;
    this.#kinds = new Uint8Array(batchSize);
    this.#numbers = new Float64Array(batchSize);
    this.#times = new Float64Array(batchSize);
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
    if (this.#closed) {
      this.#drop();
      return;
    }
    const i = this.#length;
    const tick = this.#clock[0]!;
    if (tick !== this.#tick || i === 0) {
      this.#tick = tick;
      this.#now = performance.now();
    }
    this.#times[i] = this.#now;
    if (typeof value === "number") this.#numbers[i] = value;
    else {
      this.#kinds[i] = KIND_OTHER;
      this.#others.push(value);
    }
    this.#length = i + 1;
    this.#slot[SENT] = ++this.#sent;
    if (i + 1 === this.#capacity || this.#slot[BELL] !== 0) this.post();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Posts the buffered events now, if any. */
  post(): void {
    if (this.#slot[BELL] !== 0) Atomics.store(this.#slot, BELL, 0);
    const count = this.#length;
    if (count === 0) return;
    const kinds = this.#kinds;
    const numbers = this.#numbers;
    const times = this.#times;
    const others = this.#others;
    const message: BatchMessage = {
      kind: "batch",
      origin: performance.timeOrigin,
      count,
      kinds,
      numbers,
      others,
      times,
    };
    this.#kinds = new Uint8Array(this.#capacity);
    this.#numbers = new Float64Array(this.#capacity);
    this.#times = new Float64Array(this.#capacity);
    this.#others = [];
    this.#length = 0;
    try {
      // Typed arrays always clone, so moving their buffers cannot fail half-way; other values may not clone.
      if (others.length === 0) this.#post(message, [kinds.buffer, numbers.buffer, times.buffer]);
      else this.#postOthers(message);
    } catch {
      // The channel itself is gone (the sidecar died): the events are lost and counted as dropped.
      this.#dropped += count;
      this.#slot[DROPPED] = this.#dropped;
    }
    this.#slot[POSTED] = this.#sent;
  }

  /** Posts what is buffered and refuses later events, counting them as dropped. */
  close(): void {
    if (this.#closed) return;
    this.post();
    this.#closed = true;
  }

  #postOthers(message: BatchMessage): void {
    try {
      this.#post(message, []);
    } catch {
      // A value structured clone refuses (a function, a symbol, ...): convert to plain data and retry.
      this.#post({ ...message, others: message.others.map(toCloneable) }, []);
    }
  }

  #drop(): void {
    this.#dropped++;
    this.#slot[DROPPED] = this.#dropped;
  }
}
