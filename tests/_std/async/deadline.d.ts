// Types of @std/async/deadline for the untyped JS sources of the npm package deno-std.
export class DeadlineError extends Error {}
export function deadline<T>(p: Promise<T>, ms: number, options?: { signal?: AbortSignal }): Promise<T>;
