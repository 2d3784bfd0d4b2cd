import type { ExitListener } from "./exit.ts";
import { listenNodeExit, nodeProcess } from "./exit.node.ts";

interface DenoScope {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/**
 * Deno: `Deno.exit()` and the program's end dispatch `unload`, `process.exit()` emits `exit`, and an uncaught error
 * or rejection dispatches `error` / `unhandledrejection` and then ends the process without either. The program may
 * still cancel such an error in a listener that runs after this one, so it only drains (the telemetry goes on if
 * the process does).
 */
export function listenDenoExit(listener: ExitListener): () => void {
  const scope = globalThis as unknown as DenoScope;
  const unload = () => listener.exit("exit");
  const error = () => listener.exit("error");
  scope.addEventListener("unload", unload);
  scope.addEventListener("error", error);
  scope.addEventListener("unhandledrejection", error);
  const removeNode = listenNodeExit(listener, nodeProcess());
  return () => {
    scope.removeEventListener("unload", unload);
    scope.removeEventListener("error", error);
    scope.removeEventListener("unhandledrejection", error);
    removeNode();
  };
}
