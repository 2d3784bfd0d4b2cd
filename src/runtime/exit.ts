import { runtimeName } from "./detect.ts";
import { listenDenoExit } from "./exit.deno.ts";
import { listenNodeExit, listenNodeSignals } from "./exit.node.ts";

/** The signals after which the exit drain runs. */
export type ExitSignal = "SIGINT" | "SIGTERM";

/** How the process is ending. `"error"` may still be cancelled by the program (Deno's `error` events). */
export type ExitKind = "exit" | "error";

/** What one running telemetry does when the process ends without its `stop()`. */
export interface ExitHooks {
  /** Starts draining: post what the thread buffered and ask the sidecar to finish. Must not block. */
  begin(kind: ExitKind): void;
  /** Blocks until the drain is done or `deadline` (a `performance.now()` time) passes; reports what was lost. */
  finish(kind: ExitKind, deadline: number): void;
  /** Milliseconds this telemetry may wait at exit. */
  readonly timeout: number;
  /** Whether to act on SIGINT/SIGTERM. */
  readonly signals: boolean;
}

/** The process-wide part: one set of listeners however many telemetries (and copies of this library) run. */
interface Registry {
  readonly hooks: Set<ExitHooks>;
  removeExit: (() => void) | undefined;
  removeSignals: (() => void) | undefined;
}

/** Called by a runtime's listeners. */
export interface ExitListener {
  /** The process is ending: drain every telemetry, all at once. */
  exit(kind: ExitKind): void;
  /** A signal arrived; `programListens` when the program has a listener of its own. */
  signal(name: ExitSignal, programListens: boolean): void;
}

// Shared through the global object, so that two copies of this library (two versions, or source and build) in
// one process neither count each other's listeners as the program's nor drain one after the other.
const REGISTRY = Symbol.for("sidecar-telemetry.exit-registry");

function registry(): Registry {
  const g = globalThis as { [REGISTRY]?: Registry };
  return g[REGISTRY] ??= { hooks: new Set(), removeExit: undefined, removeSignals: undefined };
}

/** Drains every registered telemetry in parallel: all begin, then all finish by their own deadlines. */
function exitAll(kind: ExitKind): void {
  const hooks = [...registry().hooks];
  const started = performance.now();
  for (const h of hooks) h.begin(kind);
  for (const h of hooks) h.finish(kind, started + h.timeout);
}

const listener: ExitListener = {
  exit: exitAll,
  signal(name, programListens) {
    const hooks = [...registry().hooks].filter((h) => h.signals);
    if (programListens || hooks.length === 0) return;
    exitAll("exit");
    exitProcess(signalExitCode(name));
  },
};

/** Registers a telemetry's exit hooks; returns a function that removes them. */
export function installExitHooks(hooks: ExitHooks): () => void {
  const shared = registry();
  shared.hooks.add(hooks);
  update(shared);
  return () => {
    shared.hooks.delete(hooks);
    update(shared);
  };
}

/** Listens for exit while any telemetry runs, and for signals while any of them wants them. */
function update(shared: Registry): void {
  const any = shared.hooks.size > 0;
  const signals = [...shared.hooks].some((h) => h.signals);
  if (any && shared.removeExit === undefined) {
    shared.removeExit = runtimeName() === "deno" ? listenDenoExit(listener) : listenNodeExit(listener);
  } else if (!any && shared.removeExit !== undefined) {
    shared.removeExit();
    shared.removeExit = undefined;
  }
  if (signals && shared.removeSignals === undefined) shared.removeSignals = listenNodeSignals(listener);
  else if (!signals && shared.removeSignals !== undefined) {
    shared.removeSignals();
    shared.removeSignals = undefined;
  }
}

/** Ends the process with `code`, the way of this runtime. */
export function exitProcess(code: number): void {
  const g = globalThis as { Deno?: { exit(code: number): void }; process?: { exit(code: number): void } };
  if (g.Deno) g.Deno.exit(code);
  else g.process?.exit(code);
}

/** The exit code of a process ended by a signal, as shells report it. */
export function signalExitCode(signal: ExitSignal): number {
  return signal === "SIGINT" ? 130 : 143;
}
