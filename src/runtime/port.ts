import { builtin, type NodeWorkerThreads } from "./builtin.ts";

/**
 * Takes the next message already waiting on `port`, synchronously, where the runtime can (Node, Deno and Bun);
 * returns `undefined` when nothing waits or the runtime cannot.
 */
export function receiveNow(port: unknown): unknown {
  return builtin<NodeWorkerThreads>("node:worker_threads")?.receiveMessageOnPort(port)?.message;
}
