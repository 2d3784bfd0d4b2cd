/**
 * Catches errors thrown outside any awaited call on this thread (a sink's timer callback, a promise nobody awaits)
 * so they are counted instead of ending the thread. Inside the sidecar only.
 */
export function catchStrayErrors(onError: (error: unknown) => void): void {
  const g = globalThis as {
    process?: { on?: (event: string, listener: (error: unknown) => void) => void };
    addEventListener?: (type: string, listener: (event: Event) => void) => void;
  };
  if (typeof g.process?.on === "function") {
    g.process.on("uncaughtException", onError);
    g.process.on("unhandledRejection", onError);
  }
  // A web worker scope (Bun, and Deno's own handling) reports them as events; cancelling them keeps the thread.
  g.addEventListener?.("error", (event) => {
    event.preventDefault();
    onError((event as ErrorEvent).error ?? (event as ErrorEvent).message);
  });
  g.addEventListener?.("unhandledrejection", (event) => {
    event.preventDefault();
    onError((event as PromiseRejectionEvent).reason);
  });
}
