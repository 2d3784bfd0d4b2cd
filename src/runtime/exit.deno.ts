import type { ExitHooks } from "./exit.ts";
import { installNodeExitHooks, nodeProcess } from "./exit.node.ts";

interface DenoScope {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/**
 * Deno: `Deno.exit()` and the program's end dispatch `unload`, `process.exit()` emits `exit`, and an uncaught error
 * or rejection dispatches `error` / `unhandledrejection` and then ends the process without either.
 */
export function installDenoExitHooks(hooks: ExitHooks): () => void {
  const scope = globalThis as unknown as DenoScope;
  const exit = (event: Event) => {
    // A listener of the program's own may cancel the error; then the process goes on.
    if ((event.type === "error" || event.type === "unhandledrejection") && event.defaultPrevented) return;
    hooks.onExit();
  };
  const events = ["unload", "error", "unhandledrejection"];
  for (const type of events) scope.addEventListener(type, exit);
  const removeNode = installNodeExitHooks(hooks, nodeProcess());
  return () => {
    for (const type of events) scope.removeEventListener(type, exit);
    removeNode();
  };
}
