/** The JavaScript runtimes this package knows. */
export type RuntimeName = "deno" | "bun" | "node" | "web";

/** Names the runtime this code runs on, detected when called. */
export function runtimeName(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } } };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  if (g.process?.versions?.node !== undefined) return "node";
  return "web";
}
