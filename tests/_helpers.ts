// Shared by the tests: child processes of the runtime running the suite, temp files, the collecting sink's view.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Result of a finished child process. */
export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The command that runs a script file on the runtime running this test. */
export function runtimeCommand(script: URL): string[] {
  const file = fileURLToPath(script);
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return [process.execPath, "run", "-A", file];
  return [process.execPath, file];
}

/** Runs a script on this runtime in a child process; kills it after `limitMs` so a hang fails instead of blocking. */
export function runScript(script: URL, args: string[] = [], limitMs = 60_000): Promise<ChildResult> {
  const [cmd, ...rest] = runtimeCommand(script);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...rest, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** A fresh temporary directory. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "telemetry-test-"));
}

/** Reads an NDJSON file into its parsed lines. */
export function readNdjson(path: string): Array<{ time: number; producer: string; value: unknown }> {
  return readFileSync(path, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** Slots of the shared array the collecting sink (fixtures/collect_sink.ts) writes. */
export const COLLECT = { count: 0, orderErrors: 1, closed: 2, flushes: 3, firstProducer: 4 } as const;

/** A shared array for the collecting sink, with room for `producers` producers. */
export function collectArray(producers = 8): Int32Array {
  return new Int32Array(new SharedArrayBuffer((COLLECT.firstProducer + producers) * 4));
}

/**
 * Runs a command in a real terminal (a detached tmux session of `columns` x `rows` on a private server) and
 * returns every screen read while it ran, the last one ending with the `EXIT=<code>` line. The server is killed
 * whatever happens; a command not done within `limitMs` fails the test.
 */
export async function screensInTerminal(
  argv: string[],
  size: { columns: number; rows: number },
  limitMs: number,
): Promise<string[][]> {
  const socket = `telemetry-test-${process.pid}-${Date.now()}`;
  const tmux = (...args: string[]) =>
    execFileSync("/usr/bin/tmux", ["-L", socket, ...args], {
      encoding: "utf8",
      timeout: 5_000,
      env: { ...process.env, TERM: process.env.TERM ?? "xterm" },
    });
  const command = argv.map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(" ");
  const screens: string[][] = [];
  try {
    const { columns, rows } = size;
    tmux(
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      String(columns),
      "-y",
      String(rows),
      `${command}; echo EXIT=$?; sleep 60`,
    );
    const deadline = performance.now() + limitMs;
    for (;;) {
      const screen = tmux("capture-pane", "-p", "-t", "t", "-S", "-").split("\n").filter((l) => l !== "");
      screens.push(screen);
      if (screen.some((line) => line.startsWith("EXIT="))) break;
      if (performance.now() > deadline) {
        throw new Error(`The command did not finish in ${limitMs} ms:\n${screen.join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    try {
      tmux("kill-server");
    } catch { /* already gone */ }
  }
  return screens;
}
