/**
 * Turns a value that structured clone refuses into plain data, by fixed rules:
 * functions become `"[Function name]"`, symbols `"Symbol(description)"`, `Error`s `{ name, message, stack }`,
 * `URL`s their href, weak collections `"[WeakMap]"` / `"[WeakSet]"` / `"[WeakRef]"`, class instances a plain object
 * of their own enumerable properties, a value met again inside itself `"[Circular]"`, and a value that throws while
 * being read (a `Proxy` whose traps throw, say) `"[Unserializable: <message>]"`.
 * Plain data (numbers, strings, arrays, plain objects, `Map`, `Set`, `Date`, typed arrays, ...) is kept as it is.
 *
 * @param value Any value.
 * @returns A value that structured clone accepts.
 */
export function toCloneable(value: unknown): unknown {
  try {
    return convert(value, new Set());
  } catch (error) {
    return `[Unserializable: ${error instanceof Error ? error.message : String(error)}]`;
  }
}

function convert(value: unknown, seen: Set<object>): unknown {
  switch (typeof value) {
    case "function":
      return `[Function ${value.name || "(anonymous)"}]`;
    case "symbol":
      return value.toString();
    case "object":
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (seen.has(value)) return "[Circular]";
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack ?? "" };
  }
  if (typeof URL === "function" && value instanceof URL) return value.href;
  if (value instanceof WeakMap) return "[WeakMap]";
  if (value instanceof WeakSet) return "[WeakSet]";
  if (value instanceof WeakRef) return "[WeakRef]";
  if (
    value instanceof Date || value instanceof RegExp || ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer
  ) return value;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => convert(item, seen));
    if (value instanceof Map) {
      const out = new Map<unknown, unknown>();
      for (const [k, v] of value) out.set(convert(k, seen), convert(v, seen));
      return out;
    }
    if (value instanceof Set) {
      const out = new Set<unknown>();
      for (const v of value) out.add(convert(v, seen));
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      let item: unknown;
      try {
        item = (value as Record<string, unknown>)[key];
      } catch (error) {
        item = `[Getter threw: ${error instanceof Error ? error.message : String(error)}]`;
      }
      out[key] = convert(item, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
