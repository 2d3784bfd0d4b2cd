// A pino transport for the benchmark: a destination that discards every line, so the row measures pino's own
// path (serialising on the sending thread, the shared ring buffer, the transport worker) and no output.
import { Writable } from "node:stream";

/**
 * Builds the discarding destination inside pino's transport worker.
 *
 * @returns A writable stream that accepts and drops every chunk.
 */
// pino loads a transport through its module's default export; there is no named-export form.
export default function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
