import type { NodeWorker, NodeWorkerThreads } from "./builtin.ts";
import type { WorkerHandle } from "./worker.ts";

/** Spawns a `node:worker_threads` Worker: used on Node, and on Deno because only this Worker can be unref'd there. */
export function spawnNodeWorker(threads: NodeWorkerThreads, url: URL): WorkerHandle {
  const worker: NodeWorker = new threads.Worker(url, { name: "telemetry-sidecar" });
  return {
    post: (message, transfer = []) => worker.postMessage(message, transfer),
    onMessage: (listener) => worker.on("message", listener),
    onError: (listener) => worker.on("error", (error) => listener(asError(error))),
    onExit: (listener) => worker.on("exit", () => listener()),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    terminate: async () => {
      await worker.terminate();
    },
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
