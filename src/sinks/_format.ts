const MAX_DEPTH = 4;
const MAX_ITEMS = 50;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
// C0 and C1 control characters, DEL, and the bidirectional overrides and isolates: shown escaped, so a value can
// never drive the user's terminal or reorder what it shows.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Formats a value on one line for people: numbers and strings as they are, other values in a compact form
 * (`{ step: 1, phase: "fit" }`, `[1, 2]`, `Map(1) { "a" => 1 }`, `12n`). Control characters are escaped.
 */
export function formatValue(value: unknown): string {
  if (typeof value === "string") return escapeControl(value);
  return format(value, 0, new Set());
}

/** Replaces control characters with visible escapes: `\n`, `\t`, `\x1b`, `\u202e`, ... */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code < 0x100 ? "\\x" + code.toString(16).padStart(2, "0") : "\\u" + code.toString(16);
  });
}

/** A string inside a value: quoted, with quotes and backslashes escaped and control characters as above. */
function quote(text: string): string {
  return `"${escapeControl(text.replace(/["\\]/g, (c) => "\\" + c))}"`;
}

function format(value: unknown, depth: number, seen: Set<object>): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "boolean":
    case "undefined":
      return String(value);
    case "symbol":
      return escapeControl(value.toString());
    case "function":
      return `[Function ${value.name || "(anonymous)"}]`;
  }
  if (value === null) return "null";
  const object = value as object;
  if (seen.has(object)) return "[Circular]";
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? "Invalid Date" : object.toISOString();
  if (object instanceof RegExp) return escapeControl(String(object));
  if (object instanceof Error) return escapeControl(`${object.name}: ${object.message}`);
  if (depth >= MAX_DEPTH) return Array.isArray(object) ? "[Array]" : "[Object]";
  seen.add(object);
  try {
    if (Array.isArray(object)) return `[${list(object, (v) => format(v, depth + 1, seen))}]`;
    if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
      const items = Array.from(object as unknown as ArrayLike<number | bigint>);
      return `${object.constructor.name}(${items.length}) [${
        list(items, (v) => format(v, depth + 1, seen))
      }]`;
    }
    if (object instanceof Map) {
      const body = list(
        [...object],
        ([k, v]) => `${format(k, depth + 1, seen)} => ${format(v, depth + 1, seen)}`,
      );
      return `Map(${object.size}) {${body ? ` ${body} ` : ""}}`;
    }
    if (object instanceof Set) {
      const body = list([...object], (v) => format(v, depth + 1, seen));
      return `Set(${object.size}) {${body ? ` ${body} ` : ""}}`;
    }
    const entries = Object.entries(object);
    const body = list(
      entries,
      ([k, v]) => `${IDENTIFIER.test(k) ? k : format(k, 0, seen)}: ${format(v, depth + 1, seen)}`,
    );
    return body ? `{ ${body} }` : "{}";
  } finally {
    seen.delete(object);
  }
}

function list<T>(items: readonly T[], each: (item: T) => string): string {
  const shown = items.slice(0, MAX_ITEMS).map(each);
  if (items.length > MAX_ITEMS) shown.push(`... ${items.length - MAX_ITEMS} more`);
  return shown.join(", ");
}
