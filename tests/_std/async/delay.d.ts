// Types of @std/async/delay for the untyped JS sources of the npm package deno-std.
export function delay(ms: number, options?: { signal?: AbortSignal; persistent?: boolean }): Promise<void>;
