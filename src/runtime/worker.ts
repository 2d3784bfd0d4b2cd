import { builtin, type NodeWorkerThreads } from "./builtin.ts";
import { runtimeName } from "./detect.ts";
import { spawnNodeWorker } from "./worker.node.ts";
import { spawnWebWorker } from "./worker.web.ts";

/** A spawned worker, the same on every runtime. */
export interface WorkerHandle {
  post(message: unknown, transfer?: readonly unknown[]): void;
  onMessage(listener: (data: unknown) => void): void;
  /** A load failure or an uncaught error inside the worker. */
  onError(listener: (error: Error) => void): void;
  onExit(listener: () => void): void;
  /** Keeps the process alive while the worker runs (while a request waits for its answer). */
  ref(): void;
  /** Lets the process exit even though the worker runs. */
  unref(): void;
  terminate(): Promise<void>;
}

/** Spawns a module worker in the way that lets this runtime exit while the worker idles. */
export function spawnWorker(url: URL): WorkerHandle {
  const threads = builtin<NodeWorkerThreads>("node:worker_threads");
  if (runtimeName() === "bun" || threads === undefined) return spawnWebWorker(url);
  return spawnNodeWorker(threads, url);
}
