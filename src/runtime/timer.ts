/**
 * Lets the runtime end while `timer` is still set: Node and Bun return a timer object with `unref()`, Deno a
 * number that `Deno.unrefTimer()` takes. Does nothing where neither exists.
 */
export function unrefTimer(timer: unknown): void {
  if (typeof timer === "object" && timer !== null) {
    (timer as { unref?: () => void }).unref?.();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof timer === "number") deno?.unrefTimer?.(timer);
}
