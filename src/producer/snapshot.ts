import { errorMessage } from "../_text.ts";

const MAX_DEPTH = 64;

/**
 * Copies an event's value as it is at the `event()` call, as plain data that structured clone always accepts, so
 * later changes to the object do not change what was reported and no value can make a batch fail to post.
 *
 * The rules, the same on every runtime and whatever else is in the batch:
 * - strings, numbers, booleans, `null`, `undefined` and `BigInt`s are kept; a function becomes
 *   `"[Function name]"` and a symbol `"Symbol(description)"`;
 * - arrays, plain objects, `Map`s and `Set`s are copied, their contents by these rules;
 * - a `Date` is copied; a typed array, `DataView` or `ArrayBuffer` (shared or not) is copied into a new buffer;
 *   `RegExp`s are kept; boxed primitives become their primitive;
 * - an `Error` becomes `{ name, message, stack }` plus its own enumerable properties and its `cause`;
 * - a `URL` becomes its href; `WeakMap`, `WeakSet` and `WeakRef` become `"[WeakMap]"`, `"[WeakSet]"`, `"[WeakRef]"`;
 * - any other object (a class instance, a `MessagePort`, ...) becomes a plain object of its own enumerable
 *   properties;
 * - a value met again inside itself becomes `"[Circular]"`, one nested deeper than 64 levels `"[Too deep]"`, and a
 *   value that throws while being read (a `Proxy` whose traps throw, a getter) `"[Unserializable: <message>]"`.
 *
 * @param value Any value.
 * @returns Its copy as plain data.
 */
export function snapshot(value: unknown, limits: SnapshotLimits = NO_LIMITS): unknown {
  return copy(value, [], 0, limits);
}

/** Strings longer than `maxChars` are cut by `cut`, which returns the kept text with its marker. */
export interface SnapshotLimits {
  readonly maxChars: number;
  cut(text: string): string;
}

const NO_LIMITS: SnapshotLimits = { maxChars: Infinity, cut: (text) => text };

function copy(value: unknown, path: object[], depth: number, limits: SnapshotLimits): unknown {
  switch (typeof value) {
    case "string":
      return value.length > limits.maxChars ? limits.cut(value) : value;
    case "function":
      return `[Function ${safeName(value)}]`;
    case "symbol":
      return value.toString();
    case "object":
      if (value === null) return null;
      break;
    default:
      return value;
  }
  try {
    return copyObject(value, path, depth, limits);
  } catch (error) {
    return `[Unserializable: ${errorMessage(error)}]`;
  }
}

function copyObject(value: object, path: object[], depth: number, limits: SnapshotLimits): unknown {
  // `path` holds the objects being copied above this one: few, so a list is cheaper than a set.
  if (path.includes(value)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[Too deep]";
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype) {
    try {
      return copyPlain(value as Record<string, unknown>, path, depth, limits);
    } catch {
      // A getter threw during the fast copy: take the properties one by one, so only that one is lost.
    }
  }
  const plain = proto === null || proto === Object.prototype;
  if (!plain) {
    if (ArrayBuffer.isView(value)) return copyView(value);
    if (value instanceof ArrayBuffer) return value.slice(0);
    if (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer) {
      const out = new ArrayBuffer(value.byteLength);
      new Uint8Array(out).set(new Uint8Array(value));
      return out;
    }
    if (value instanceof Date) return new Date(value.getTime());
    if (value instanceof RegExp) return new RegExp(value.source, value.flags);
    if (value instanceof Number || value instanceof String || value instanceof Boolean) {
      return value.valueOf();
    }
    if (value instanceof URL) return value.href;
    if (value instanceof WeakMap) return "[WeakMap]";
    if (value instanceof WeakSet) return "[WeakSet]";
    if (value instanceof WeakRef) return "[WeakRef]";
  }
  path.push(value);
  try {
    const next = depth + 1;
    if (Array.isArray(value)) {
      const out = new Array(value.length);
      for (let i = 0; i < value.length; i++) out[i] = copy(value[i], path, next, limits);
      return out;
    }
    if (!plain && value instanceof Map) {
      const out = new Map<unknown, unknown>();
      for (const [k, v] of value) out.set(copy(k, path, next, limits), copy(v, path, next, limits));
      return out;
    }
    if (!plain && value instanceof Set) {
      const out = new Set<unknown>();
      for (const v of value) out.add(copy(v, path, next, limits));
      return out;
    }
    const out: Record<string, unknown> = {};
    if (!plain && value instanceof Error) {
      out.name = copy(value.name, path, next, limits);
      out.message = copy(value.message, path, next, limits);
      out.stack = copy(value.stack ?? "", path, next, limits);
      if ("cause" in value) out.cause = copy(value.cause, path, next, limits);
    }
    for (const key of Object.keys(value)) {
      let item: unknown;
      try {
        item = (value as Record<string, unknown>)[key];
      } catch (error) {
        item = `[Unserializable: ${errorMessage(error)}]`;
      }
      put(out, key, copy(item, path, next, limits));
    }
    return out;
  } finally {
    path.pop();
  }
}

/** The common case, an object literal: a spread copies it fastest; only nested values need a closer look. */
function copyPlain(
  value: Record<string, unknown>,
  path: object[],
  depth: number,
  limits: SnapshotLimits,
): Record<string, unknown> {
  const out = { ...value };
  for (const key in out) {
    const item = out[key];
    const kind = typeof item;
    if (
      (kind === "object" && item !== null) || kind === "function" || kind === "symbol" ||
      (kind === "string" && (item as string).length > limits.maxChars)
    ) {
      path.push(value);
      try {
        put(out, key, copy(item, path, depth + 1, limits));
      } finally {
        path.pop();
      }
    }
  }
  return out;
}

function copyView(view: ArrayBufferView): ArrayBufferView {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
  if (view instanceof DataView) return new DataView(bytes.buffer);
  const Ctor = view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
  return new Ctor(bytes.buffer);
}

function safeName(fn: { name?: unknown }): string {
  return typeof fn.name === "string" && fn.name !== "" ? fn.name : "(anonymous)";
}

/** Sets an own property; a key named `"__proto__"` is defined, so it stays data instead of changing the prototype. */
export function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  } else out[key] = value;
}
