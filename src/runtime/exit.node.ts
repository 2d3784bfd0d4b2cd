import type { ExitListener, ExitSignal } from "./exit.ts";

interface NodeProcess {
  on(event: string, listener: (...args: unknown[]) => void): void;
  off(event: string, listener: (...args: unknown[]) => void): void;
  listenerCount(event: string): number;
}

/** Node and Bun: the `exit` event covers `process.exit`, the program's end and uncaught errors. */
export function listenNodeExit(listener: ExitListener, process = nodeProcess()): () => void {
  if (process === undefined) return () => {};
  const exit = () => listener.exit("exit");
  process.on("exit", exit);
  return () => process.off("exit", exit);
}

/**
 * SIGINT and SIGTERM through `process` (Node, Bun, and Deno's Node-compatible `process`). Installing a listener
 * replaces the runtime's default of ending the process, so these are installed only while a telemetry wants them.
 * One listener per signal: any other is the program's own.
 */
export function listenNodeSignals(listener: ExitListener, process = nodeProcess()): () => void {
  if (process === undefined) return () => {};
  const signal = (name: ExitSignal) => () => listener.signal(name, process.listenerCount(name) > 1);
  const sigint = signal("SIGINT");
  const sigterm = signal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  return () => {
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
  };
}

/** The `process` global, where there is one. */
export function nodeProcess(): NodeProcess | undefined {
  return (globalThis as { process?: NodeProcess }).process;
}
