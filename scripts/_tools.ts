// Where the development runtimes are: Deno, Bun and Node 24 come from node_modules (npm install), the Node that
// runs the npm build's tests is the user's own (the one that runs npm, 20 or later).
import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Absolute path of a tool installed in node_modules/.bin. */
export function localBin(name: string): string {
  return join(ROOT, "node_modules", ".bin", name);
}

/** Node 24, installed as the npm package `node24` (an alias of `node@24`). */
export function node24(): string {
  return join(ROOT, "node_modules", "node24", "bin", "node");
}

/**
 * The user's own Node: `NODE_FOR_NPM_TESTS` if set, else the Node that runs npm, else the first `node` on PATH
 * outside this repository's node_modules (where `node` is Node 24).
 */
export function systemNode(): string {
  const chosen = process.env.NODE_FOR_NPM_TESTS ?? process.env.npm_node_execpath;
  if (chosen) return chosen;
  const local = resolve(ROOT, "node_modules");
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "node");
    if (dir !== "" && !resolve(dir).startsWith(local) && existsSync(candidate)) return candidate;
  }
  throw new Error("No Node.js found on PATH outside node_modules: set NODE_FOR_NPM_TESTS to a node binary");
}
