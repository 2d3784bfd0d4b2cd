import { type SinkSpec, TERMINAL_OPEN_LINE } from "../protocol.ts";
import { runtimeName } from "../runtime/detect.ts";
import { isTerminal } from "../runtime/tty.ts";
import { eraseBlock, lockTerminal, unlockTerminal } from "../sinks/_terminal.ts";

const METHODS = ["log", "info", "warn", "error", "debug"] as const;
type Method = (typeof METHODS)[number];

interface WritableStream {
  write(chunk: unknown, ...rest: unknown[]): boolean;
}

// Writes nested in a guarded one (Node's console.log calls process.stdout.write) pass straight through: the lock
// is not reentrant.
let depth = 0;

/**
 * Keeps the program's own console output from garbling the progress sink's block. Wraps `console.log`, `info`,
 * `warn`, `error` and `debug` on this thread, and on Node and Bun `process.stdout.write` and
 * `process.stderr.write`: each write takes the terminal lock shared with the sidecar, erases the block if one is
 * drawn, and writes; the sidecar draws the block again below it within 100 ms. Does nothing when no progress sink
 * is among `sinks`.
 *
 * @example Guard the console for a run with a progress sink
 * ```ts
 * import { installConsoleGuard } from "./console_guard.ts";
 * import { resolveOptions } from "./options.ts";
 *
 * const { sinks } = resolveOptions({ sinks: [{ kind: "progress" }] }, new URL("file:///worker.js"));
 * const uninstall = installConsoleGuard(sinks);
 * console.log("printed above the bars");
 * uninstall();
 * ```
 *
 * @param sinks The resolved sinks of the run (`ResolvedOptions.sinks`).
 * @returns A function that puts the original methods back; calling it again does nothing.
 */
export function installConsoleGuard(sinks: readonly SinkSpec[]): () => void {
  const spec = sinks.find((s) => s.kind === "progress");
  if (spec === undefined) return () => {};
  const share = spec.terminal;
  const stdoutOnScreen = isTerminal(1);

  // `open`: whether the write leaves a line unfinished; undefined when it cannot tell (nothing written).
  function guarded<T>(fd: 1 | 2, open: boolean | undefined, write: () => T): T {
    if (depth > 0 || (fd === 1 && !stdoutOnScreen)) return write();
    depth++;
    const locked = lockTerminal(share);
    try {
      eraseBlock(share);
      return write();
    } finally {
      if (open !== undefined) Atomics.store(share, TERMINAL_OPEN_LINE, open ? 1 : 0);
      depth--;
      if (locked) unlockTerminal(share);
    }
  }

  const restore: Array<() => void> = [];
  const target = console as unknown as Record<Method, (...args: unknown[]) => void>;
  for (const method of METHODS) {
    const original = target[method];
    const fd = method === "warn" || method === "error" ? 2 : 1;
    const wrapper = function (this: unknown, ...args: unknown[]): void {
      guarded(fd, false, () => original.apply(this, args));
    };
    target[method] = wrapper;
    restore.push(() => {
      if (target[method] === wrapper) target[method] = original;
    });
  }

  const proc = (globalThis as { process?: { stdout?: WritableStream; stderr?: WritableStream } }).process;
  const name = runtimeName();
  if (name === "node" || name === "bun") {
    for (const [fd, stream] of [[1, proc?.stdout], [2, proc?.stderr]] as const) {
      if (stream === undefined || typeof stream.write !== "function") continue;
      const original = stream.write;
      const wrapper = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
        return guarded(fd, openLine(chunk), () => original.call(this, chunk, ...rest));
      };
      stream.write = wrapper;
      restore.push(() => {
        if (stream.write === wrapper) stream.write = original;
      });
    }
  }

  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    for (const undo of restore) undo();
  };
}

function openLine(chunk: unknown): boolean | undefined {
  if (typeof chunk === "string") return chunk === "" ? undefined : !chunk.endsWith("\n");
  if (chunk instanceof Uint8Array) return chunk.length === 0 ? undefined : chunk[chunk.length - 1] !== 10;
  return undefined;
}
