import { type BatchMessage, BELL, DROPPED, POSTED, type ProducerInfo, SENT } from "../protocol.ts";
import { toCloneable } from "./cloneable.ts";

/** Sends one message to the sidecar, transferring the listed buffers. */
export type PostBatch = (message: BatchMessage, transfer: Transferable[]) => void;

/**
 * The sending side of one thread: buffers events and posts them to the sidecar in batches.
 *
 * The hot path only stores into the buffer and bumps the shared `sent` counter. A batch is posted when the buffer is
 * full, and from a microtask after the first buffered event of a turn, so an idle thread never holds events.
 */
export class Producer {
  readonly info: ProducerInfo;
  readonly #slot: Int32Array;
  readonly #post: PostBatch;
  readonly #capacity: number;
  readonly #flushTask = (): void => {
    this.#scheduled = false;
    this.post();
  };
  #values: unknown[];
  #times: Float64Array<ArrayBuffer>;
  #length = 0;
  #sent = 0;
  #dropped = 0;
  #scheduled = false;
  #closed = false;

  constructor(info: ProducerInfo, post: PostBatch, batchSize: number) {
    this.info = info;
    this.#slot = info.slot;
    this.#post = post;
    this.#capacity = batchSize;
    this.#values = new Array(batchSize);
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
    this.#values[i] = value;
    this.#times[i] = performance.now();
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
    const count = this.#length;
    if (this.#slot[BELL] !== 0) Atomics.store(this.#slot, BELL, 0);
    if (count === 0) return;
    const values = this.#values;
    const times = this.#times;
    this.#values = new Array(this.#capacity);
    this.#times = new Float64Array(this.#capacity);
    this.#length = 0;
    values.length = count;
    const message: BatchMessage = { kind: "batch", origin: performance.timeOrigin, count, values, times };
    try {
      // Timestamps are copied, not transferred: a refused batch must still have them for the retry below.
      this.#post(message, []);
    } catch {
      // A value structured clone refuses (a function, a symbol, ...): convert the batch to plain data and retry.
      try {
        const plain: BatchMessage = { ...message, values: values.map(toCloneable) };
        this.#post(plain, []);
      } catch {
        // The channel itself is gone (the sidecar died): the events are lost and counted as dropped.
        this.#dropped += count;
        this.#slot[DROPPED] = this.#dropped;
      }
    }
    this.#slot[POSTED] = this.#sent;
  }

  /** Posts what is buffered and refuses later events, counting them as dropped. */
  close(): void {
    if (this.#closed) return;
    this.post();
    this.#closed = true;
  }

  #drop(): void {
    this.#dropped++;
    this.#slot[DROPPED] = this.#dropped;
  }
}
