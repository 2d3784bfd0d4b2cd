// A sink for the benchmark's whole-run figures: it only adds each batch's length to a shared counter, so what is
// measured is the library's path from event() to a sink, not a sink's own work.
import type { Sink } from "../mod.ts";

/** Options of the counting sink: slot 0 of `shared` receives the number of events handled. */
export interface CountSinkOptions {
  shared: Int32Array;
}

/**
 * Builds the counting sink inside the sidecar.
 *
 * @param options The shared counter to add to.
 * @returns A sink whose `handle()` adds `batch.length` to `shared[0]`.
 */
export function createSink(options: CountSinkOptions): Sink {
  const { shared } = options;
  return { handle: (batch) => void Atomics.add(shared, 0, batch.length) };
}
