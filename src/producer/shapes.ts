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

const NO_KEYS: readonly string[] = [];
/** Marks a value not read yet during the walk. */
const UNREAD = Symbol("unread");
const NO_TYPES: readonly number[] = [];

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
  /** How many strings the last encoded object wrote, from `strings[0]`. */
  stringCount = 0;
  readonly #bySignature = new Map<string, Shape>();
  readonly #byId: Shape[] = [];
  #last: Shape | undefined;
  readonly #maxChars: number;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  /**
   * Writes `value`'s fields from `fields[at]` and its strings from `strings[0]` (`end` and `stringCount` say where
   * they stop); returns the shape id, or -1 when the object is not flat (the caller then copies it whole). The
   * strings are written by index, never by resizing `strings` (setting an array's length is a call into the
   * engine that cost more than the rest of an event); -1 leaves no string behind.
   *
   * One walk over the keys reads each value once (a getter runs once): it follows the last shape while the object
   * matches it, and from where it differs it notes the keys and types, to find or make the object's shape at the
   * end. Fields are written in key order either way.
   */
  encode(value: object, fields: Float64Array, at: number, strings: unknown[]): number {
    try {
      // A Proxy's trap may throw (a revoked one always does): such a value is copied by the whole-value rules.
      if (Object.getPrototypeOf(value) !== Object.prototype) return -1;
    } catch {
      return -1;
    }
    const last = this.#last;
    const lastKeys = last === undefined ? NO_KEYS : last.keys;
    const lastTypes = last === undefined ? NO_TYPES : last.types;
    const object = value as Record<string, unknown>;
    // Noted once the walk leaves the last shape; local, as a getter may send an event that encodes meanwhile.
    let keys: string[] | undefined = last === undefined ? [] : undefined;
    let types: number[] | undefined = last === undefined ? [] : undefined;
    let n = 0;
    let f = at;
    let s = 0;
    try {
      for (const key in object) {
        let field: unknown;
        if (keys === undefined) {
          if (key === lastKeys[n]) {
            field = object[key];
            const type = lastTypes[n];
            if (type === FIELD_NUMBER && typeof field === "number") fields[f++] = field;
            else if (type === FIELD_STRING && typeof field === "string" && field.length <= this.#maxChars) {
              strings[s++] = field;
            } else if (type === FIELD_BOOLEAN && typeof field === "boolean") fields[f++] = field ? 1 : 0;
            else {
              // Read already, of another type: noted below.
              keys = lastKeys.slice(0, n);
              types = lastTypes.slice(0, n);
            }
            if (keys === undefined) {
              n++;
              continue;
            }
          } else {
            keys = lastKeys.slice(0, n);
            types = lastTypes.slice(0, n);
            field = UNREAD;
          }
        } else field = UNREAD;
        // A "__proto__" key would be assigned as the prototype when rebuilt: such objects are copied whole.
        if (n === MAX_SHAPE_KEYS || key === "__proto__" || !Object.hasOwn(object, key)) {
          return refuse(strings, s);
        }
        if (field === UNREAD) field = object[key];
        const type = fieldType(field);
        if (type < 0 || (type === FIELD_STRING && (field as string).length > this.#maxChars)) {
          return refuse(strings, s);
        }
        keys.push(key);
        types!.push(type);
        if (type === FIELD_NUMBER) fields[f++] = field as number;
        else if (type === FIELD_BOOLEAN) fields[f++] = field ? 1 : 0;
        else strings[s++] = field;
        n++;
      }
      // Following the last shape checks no key for being own. for-in gives the own keys first, so an inherited
      // one (an enumerable property added to Object.prototype) comes last: one look at the last key finds it.
      if (keys === undefined && n > 0 && !Object.hasOwn(object, lastKeys[n - 1]!)) return refuse(strings, s);
    } catch {
      return refuse(strings, s); // A getter threw: the whole-value copy records it.
    }
    let shape = last;
    if (keys === undefined && n < lastKeys.length) {
      // The keys of the last shape, but fewer of them.
      keys = lastKeys.slice(0, n);
      types = lastTypes.slice(0, n);
    }
    if (keys !== undefined) {
      shape = this.#shapeOf(keys, types!);
      if (shape === undefined) return refuse(strings, s);
      this.#last = shape;
    }
    this.end = f;
    this.stringCount = s;
    return shape!.id;
  }

  /** Rebuilds an object of shape `id` from the columns, advancing `cursor`. */
  decode(id: number, fields: Float64Array, strings: readonly unknown[], cursor: ShapeCursor): object {
    return decodeShape(this.#byId[id]!, fields, strings, cursor);
  }

  /** The shape of these keys and types, made and remembered if new; undefined past `MAX_SHAPES`. */
  #shapeOf(keys: string[], types: number[]): Shape | undefined {
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

/** Lets go of the strings an object that cannot be encoded by shape had written. */
function refuse(strings: unknown[], count: number): -1 {
  for (let k = 0; k < count; k++) strings[k] = undefined;
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
