import {
  decodeShape,
  FIELD_BOOLEAN,
  FIELD_NUMBER,
  FIELD_STRING,
  MAX_SHAPE_KEYS,
  MAX_SHAPES,
  type Shape,
  type ShapeCursor,
} from "../protocol.ts";

/**
 * Encodes flat plain objects (`{ step, loss, phase }`: up to `MAX_SHAPE_KEYS` own properties, each a number, a
 * string or a boolean) as a shape id plus their values in columns: numbers and booleans into a `Float64Array`,
 * strings into the ordered list that travels with the batch. Structured-cloning the object costs 300-500 ns; this
 * costs a walk over its keys.
 */
export class ShapeEncoder {
  /** Shapes made since the last batch in columns was posted; they travel with it. */
  fresh: Shape[] = [];
  /** Where the fields of the last encoded object end. */
  end = 0;
  readonly #bySignature = new Map<string, Shape>();
  readonly #byId: Shape[] = [];
  #last: Shape | undefined;
  readonly #maxChars: number;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  /**
   * Writes `value`'s fields from `fields[at]` and its strings to `strings`; returns the shape id, or -1 when the
   * object is not flat (the caller then copies it whole). Nothing is written when it returns -1.
   */
  encode(value: object, fields: Float64Array, at: number, strings: unknown[]): number {
    try {
      // A Proxy's trap may throw (a revoked one always does): such a value is copied by the whole-value rules.
      if (Object.getPrototypeOf(value) !== Object.prototype) return -1;
    } catch {
      return -1;
    }
    const shape = this.#last;
    if (shape !== undefined) {
      const end = write(value as Record<string, unknown>, shape, fields, at, strings, this.#maxChars);
      if (end >= 0) {
        this.end = end;
        return shape.id;
      }
    }
    const found = this.#shapeOf(value as Record<string, unknown>);
    if (found === undefined) return -1;
    this.#last = found;
    const end = write(value as Record<string, unknown>, found, fields, at, strings, this.#maxChars);
    if (end < 0) return -1;
    this.end = end;
    return found.id;
  }

  /** Rebuilds an object of shape `id` from the columns, advancing `cursor`. */
  decode(id: number, fields: Float64Array, strings: readonly unknown[], cursor: ShapeCursor): object {
    return decodeShape(this.#byId[id]!, fields, strings, cursor);
  }

  /** The shape of a flat object, made and remembered if new; undefined when the object is not flat. */
  #shapeOf(value: Record<string, unknown>): Shape | undefined {
    const keys: string[] = [];
    const types: number[] = [];
    try {
      for (const key in value) {
        // A "__proto__" key would be assigned as the prototype when rebuilt: such objects are copied whole.
        if (keys.length === MAX_SHAPE_KEYS || key === "__proto__" || !Object.hasOwn(value, key)) {
          return undefined;
        }
        const type = fieldType(value[key]);
        if (type < 0) return undefined;
        keys.push(key);
        types.push(type);
      }
    } catch {
      return undefined; // A getter threw: the whole-value copy records it.
    }
    const signature = JSON.stringify([keys, types]);
    let shape = this.#bySignature.get(signature);
    if (shape === undefined) {
      if (this.#bySignature.size >= MAX_SHAPES) return undefined;
      shape = { id: this.#bySignature.size, keys, types };
      this.#bySignature.set(signature, shape);
      this.#byId.push(shape);
      this.fresh.push(shape);
    }
    return shape;
  }
}

/** Writes `value` by `shape` and returns where its fields end; -1, with nothing kept, when it has another shape. */
function write(
  value: Record<string, unknown>,
  shape: Shape,
  fields: Float64Array,
  at: number,
  strings: unknown[],
  maxChars: number,
): number {
  const { keys, types } = shape;
  const mark = strings.length;
  let j = 0;
  let f = at;
  let same = true;
  try {
    for (const key in value) {
      // An extra key meets `keys[j]` undefined.
      if (key !== keys[j]) {
        same = false;
        break;
      }
      const field = value[key];
      const type = types[j];
      if (type === FIELD_NUMBER && typeof field === "number") fields[f++] = field;
      else if (type === FIELD_STRING && typeof field === "string" && field.length <= maxChars) {
        strings.push(field);
      } else if (type === FIELD_BOOLEAN && typeof field === "boolean") fields[f++] = field ? 1 : 0;
      else {
        same = false;
        break;
      }
      j++;
    }
  } catch {
    same = false;
  }
  if (same && j === keys.length) return f;
  strings.length = mark;
  return -1;
}

function fieldType(value: unknown): number {
  switch (typeof value) {
    case "number":
      return FIELD_NUMBER;
    case "string":
      return FIELD_STRING;
    case "boolean":
      return FIELD_BOOLEAN;
    default:
      return -1;
  }
}
