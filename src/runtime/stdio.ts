import { builtin, type NodeFs } from "./builtin.ts";

const encoder = new TextEncoder();
let pause: Int32Array | undefined;

/**
 * Writes text to stdout (fd 1) or stderr (fd 2) synchronously, so it is out before the caller goes on: a worker's
 * `console` is forwarded to the main thread asynchronously on some runtimes. A pipe whose reader is slow answers
 * `EAGAIN`; the write then waits a millisecond and goes on, so no line is lost or cut.
 */
export function writeSync(fd: 1 | 2, text: string): void {
  const fs = builtin<NodeFs>("node:fs");
  if (fs === undefined) {
    (fd === 1 ? console.log : console.error)(text.endsWith("\n") ? text.slice(0, -1) : text);
    return;
  }
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
      pause ??= new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
