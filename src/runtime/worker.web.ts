import type { WorkerHandle } from "./worker.ts";

interface RefWorker extends Worker {
  ref?: () => void;
  unref?: () => void;
}

/** Spawns a Web Worker (module type): used on Bun, whose Worker can be unref'd. */
export function spawnWebWorker(url: URL): WorkerHandle {
  const worker: RefWorker = new Worker(url, { type: "module", name: "telemetry-sidecar" });
  let exited = false;
  const exitListeners: Array<() => void> = [];
  const exit = () => {
    if (exited) return;
    exited = true;
    for (const listener of exitListeners) listener();
  };
  worker.addEventListener("close", exit);
  return {
    post: (message, transfer = []) => worker.postMessage(message, transfer as Transferable[]),
    onMessage: (listener) => worker.addEventListener("message", (event) => listener(event.data)),
    onError: (listener) =>
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        listener(event.error instanceof Error ? event.error : new Error(event.message || "Worker error"));
      }),
    onExit: (listener) => exitListeners.push(listener),
    ref: () => worker.ref?.(),
    unref: () => worker.unref?.(),
    terminate: () => {
      worker.terminate();
      exit();
      return Promise.resolve();
    },
  };
}
