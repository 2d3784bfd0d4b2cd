/**
 * Encodes a value as one line of JSON, always valid: `NaN`, `Infinity` and `-Infinity` become the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"`; a `BigInt` becomes its decimal digits as a string; `-0` becomes `0`;
 * `undefined` becomes `null`; a `Map` an array of `[key, value]` pairs and a `Set` an array; a typed array an array
 * of numbers; an `ArrayBuffer` or `DataView` an array of its bytes; an invalid `Date` `null`; a value met again
 * inside itself `"[Circular]"`. Events reach sinks as snapshots (see `snapshot.ts`), so Errors, URLs and functions
 * are plain data already.
 */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(toJsonValue(value, new Set())) ?? "null";
}

/** The JSON-safe form of a value, by the rules of `toJsonLine`. */
export function toJsonValue(value: unknown, seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
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
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof RegExp) return String(value);
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => toJsonValue(v, seen));
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => toJsonValue(v, seen));
    }
    if (value instanceof DataView) {
      return Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    }
    if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
    if (value instanceof Map) return [...value].map(([k, v]) => [toJsonValue(k, seen), toJsonValue(v, seen)]);
    if (value instanceof Set) return [...value].map((v) => toJsonValue(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const item = toJsonValue(v, seen);
      // Defined, not assigned: an own "__proto__" key stays a key.
      if (k === "__proto__") {
        Object.defineProperty(out, k, { value: item, enumerable: true, writable: true, configurable: true });
      } else out[k] = item;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
