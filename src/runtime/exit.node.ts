import type { ExitHooks, ExitSignal } from "./exit.ts";

interface NodeProcess {
  on(event: string, listener: (...args: unknown[]) => void): void;
  off(event: string, listener: (...args: unknown[]) => void): void;
  listenerCount(event: string): number;
}

// Signal listeners installed here, so that other running telemetries do not count as the program's own.
let ours = 0;

/** Node and Bun: the `exit` event covers `process.exit`, the program's end and uncaught errors. */
export function installNodeExitHooks(hooks: ExitHooks, process = nodeProcess()): () => void {
  if (process === undefined) return () => {};
  const exit = () => hooks.onExit();
  const signal = (name: ExitSignal) => () => hooks.onSignal(name, process.listenerCount(name) > ours);
  const sigint = signal("SIGINT");
  const sigterm = signal("SIGTERM");
  process.on("exit", exit);
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  ours++;
  return () => {
    ours--;
    process.off("exit", exit);
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
  };
}

/** The `process` global, where there is one. */
export function nodeProcess(): NodeProcess | undefined {
  return (globalThis as { process?: NodeProcess }).process;
}
