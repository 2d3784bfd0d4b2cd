import type { Port, WelcomeMessage } from "../protocol.ts";
import { receiveNow } from "../runtime/port.ts";
import { Producer } from "./producer.ts";
import { type Instruments, InstrumentSet } from "./instruments.ts";

/**
 * The sending side in another thread, from `attachTelemetry()`: events, metric handles, logs, spans and progress,
 * as on the main thread's `Telemetry`.
 */
export interface TelemetryProducer extends Instruments {
  /** Sends one event. Never blocks and never throws; after `close()` it is counted as dropped. */
  event(value: unknown): void;
  /** Posts the events buffered on this thread now (they are also posted at the end of each turn). */
  flush(): void;
  /** Posts what is buffered and ends this producer. */
  close(): void;
}

/**
 * Turns a port from `telemetry.connect()`, transferred to this thread, into a producer with the sending API.
 *
 * @example In a compute worker
 * ```ts ignore
 * import { parentPort } from "node:worker_threads";
 * import { attachTelemetry } from "@sidecar/telemetry";
 *
 * parentPort!.once("message", ({ port }) => {
 *   const telemetry = attachTelemetry(port);
 *   for (let i = 0; i < 1000; i++) telemetry.event({ chunk: i });
 *   telemetry.flush(); // the pool may terminate this worker as soon as it says done
 *   parentPort!.postMessage("done");
 * });
 * ```
 *
 * @param port The port from `telemetry.connect()`.
 * @returns The producer.
 * @throws {Error} When the port did not come from `connect()` or was attached already.
 */
export function attachTelemetry(port: Port): TelemetryProducer {
  const welcome = receiveNow(port) as WelcomeMessage | undefined;
  if (welcome?.kind !== "welcome") {
    throw new Error(
      "attachTelemetry() needs a port from telemetry.connect() that was not attached yet: call connect() once per producer",
    );
  }
  const producer = new Producer(
    welcome.producer,
    (message, transfer) => port.postMessage(message, transfer as Transferable[]),
    welcome.config,
  );
  // The port belongs to telemetry now: closing it directly must not lose what this thread still buffers.
  const closePort = port.close.bind(port);
  port.close = () => {
    producer.close();
    closePort();
  };
  const instruments = new InstrumentSet(producer);
  return {
    event: (value) => producer.event(value),
    flush: () => producer.post(),
    close: () => producer.close(),
    counter: (name, labels, options) => instruments.counter(name, labels, options),
    gauge: (name, labels, options) => instruments.gauge(name, labels, options),
    histogram: (name, labels, options) => instruments.histogram(name, labels, options),
    timer: (name, labels) => instruments.timer(name, labels),
    time: (name, fn) => instruments.time(name, fn),
    log: (level, message, fields) => instruments.log(level, message, fields),
    span: (name, attributes, parent) => instruments.span(name, attributes, parent),
    progress: (done, total, label) => instruments.progress(done, total, label),
  };
}
