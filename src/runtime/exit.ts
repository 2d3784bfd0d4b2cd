import { runtimeName } from "./detect.ts";
import { installDenoExitHooks } from "./exit.deno.ts";
import { installNodeExitHooks } from "./exit.node.ts";

/** The signals after which the exit drain runs. */
export type ExitSignal = "SIGINT" | "SIGTERM";

/** What to do when the process ends without `stop()`. */
export interface ExitHooks {
  /** Runs synchronously as the process ends: `process.exit`, `Deno.exit`, the end of the program, an uncaught error. */
  onExit(): void;
  /**
   * Runs on SIGINT/SIGTERM, before the runtime's default action. `handledByProgram` is true when the program
   * listens for the signal itself, so the process must not be ended here.
   */
  onSignal(signal: ExitSignal, handledByProgram: boolean): void;
}

/** Installs exit and signal hooks in the way of this runtime; returns a function that removes them. */
export function installExitHooks(hooks: ExitHooks): () => void {
  return runtimeName() === "deno" ? installDenoExitHooks(hooks) : installNodeExitHooks(hooks);
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
