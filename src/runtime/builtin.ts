/** The narrow shape of the `node:` modules this package uses, declared here so no runtime's types are needed. */
export interface NodeFs {
  writeSync(fd: number, buffer: Uint8Array, offset?: number, length?: number): number;
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  fsyncSync(fd: number): void;
}

/** The narrow shape of `node:tty` used here. */
export interface NodeTty {
  isatty(fd: number): boolean;
}

/** The narrow shape of `node:worker_threads` used here. */
export interface NodeWorkerThreads {
  Worker: new (url: URL, options?: Record<string, unknown>) => NodeWorker;
  parentPort: NodeMessagePort | null;
  receiveMessageOnPort(port: unknown): { message: unknown } | undefined;
}

/** A `node:worker_threads` Worker, as far as it is used here. */
export interface NodeWorker {
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  on(event: "message", listener: (data: unknown) => void): void;
  on(event: "error", listener: (error: unknown) => void): void;
  on(event: "exit", listener: (code: number) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** The parent port inside a `node:worker_threads` worker. */
export interface NodeMessagePort {
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  on(event: "message", listener: (data: unknown) => void): void;
}

interface ProcessWithBuiltins {
  getBuiltinModule?: (name: string) => unknown;
}

/**
 * Returns a built-in `node:` module when the runtime has one (Node, Deno and Bun do), else `undefined`.
 * Looked up on each call, so importing this package touches no runtime-specific API.
 */
export function builtin<T>(name: "node:fs" | "node:tty" | "node:worker_threads"): T | undefined {
  const process = (globalThis as { process?: ProcessWithBuiltins }).process;
  return process?.getBuiltinModule?.(name) as T | undefined;
}
