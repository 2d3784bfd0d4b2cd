/**
 * The sink interface: what runs inside the sidecar and receives every event.
 *
 * @module
 */

/** The producer a batch came from. */
export interface ProducerMeta {
  /** 0 for the thread that called `startTelemetry()`, then 1, 2, ... in `connect()` order. */
  readonly id: number;
  /** `"main"`, or the name given to `connect()`. */
  readonly name: string;
}

/** A batch of events from one producer, in the order they were sent. */
export interface EventBatch {
  /** The producer that sent these events. */
  readonly producer: ProducerMeta;
  /** Number of events. */
  readonly length: number;
  /** The events' values. */
  readonly values: readonly unknown[];
  /** Each event's time in epoch milliseconds, taken on the sending thread. */
  readonly times: Float64Array;
}

/**
 * A destination for events. It runs inside the sidecar; each method may return a promise, which the sidecar awaits
 * before it hands over the next batch and before it answers `flush()` or `stop()`.
 */
export interface Sink {
  /** Handles one batch. A throw or rejection is counted as an error of this sink; later batches still arrive. */
  handle(batch: EventBatch): void | Promise<void>;
  /** Called by `flush()` and before `close()`, after every earlier batch was handled. */
  flush?(): void | Promise<void>;
  /** Called once at stop, after the last batch. */
  close?(): void | Promise<void>;
}

/**
 * What a custom sink module exports: a function that builds the sink inside the sidecar from the cloneable
 * `options` given to `startTelemetry()`.
 */
export type SinkFactory = (options: unknown) => Sink | Promise<Sink>;
