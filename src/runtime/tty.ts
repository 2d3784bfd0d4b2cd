import { builtin, type NodeTty } from "./builtin.ts";

interface DenoTerminal {
  isTerminal(): boolean;
}

interface DenoConsole {
  stdout: DenoTerminal;
  stderr: DenoTerminal;
  consoleSize(): { columns: number; rows: number };
}

interface NodeStream {
  columns?: number;
  rows?: number;
}

/** A terminal's size in character cells. */
export interface TerminalSize {
  readonly columns: number;
  readonly rows: number;
}

/**
 * Tells whether stdout (1) or stderr (2) is a terminal, on any thread: `Deno.stderr.isTerminal()` on Deno,
 * `isatty()` of `node:tty` elsewhere. False where neither is available.
 */
export function isTerminal(fd: 1 | 2): boolean {
  const deno = (globalThis as { Deno?: DenoConsole }).Deno;
  try {
    if (deno !== undefined) return (fd === 1 ? deno.stdout : deno.stderr).isTerminal();
    return builtin<NodeTty>("node:tty")?.isatty(fd) ?? false;
  } catch {
    return false;
  }
}

/**
 * The size of the terminal stderr writes to, read on the main thread (a worker's streams do not know it):
 * `process.stderr.columns` on Node and Bun, `Deno.consoleSize()` on Deno. 80 by 24 when it is not a terminal.
 */
export function terminalSize(): TerminalSize {
  const fallback = { columns: 80, rows: 24 };
  const g = globalThis as { Deno?: DenoConsole; process?: { stderr?: NodeStream } };
  try {
    if (g.Deno !== undefined) {
      const { columns, rows } = g.Deno.consoleSize();
      return columns > 0 && rows > 0 ? { columns, rows } : fallback;
    }
    const stream = g.process?.stderr;
    const columns = stream?.columns ?? 0;
    const rows = stream?.rows ?? 0;
    return columns > 0 && rows > 0 ? { columns, rows } : fallback;
  } catch {
    return fallback; // Deno.consoleSize() throws when no standard stream is a terminal
  }
}
