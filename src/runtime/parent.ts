import { builtin, type NodeWorkerThreads } from "./builtin.ts";

/** The channel from inside a worker to the thread that spawned it. */
export interface ParentChannel {
  post(message: unknown): void;
  onMessage(listener: (data: unknown) => void): void;
}

/** Connects to the spawning thread: `parentPort` under `node:worker_threads`, the worker scope otherwise. */
export function parentChannel(): ParentChannel {
  const port = builtin<NodeWorkerThreads>("node:worker_threads")?.parentPort;
  if (port) {
    return {
      post: (message) => port.postMessage(message),
      onMessage: (listener) => port.on("message", listener),
    };
  }
  const scope = globalThis as unknown as {
    postMessage(message: unknown): void;
    addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  };
  return {
    post: (message) => scope.postMessage(message),
    onMessage: (listener) => scope.addEventListener("message", (event) => listener(event.data)),
  };
}
