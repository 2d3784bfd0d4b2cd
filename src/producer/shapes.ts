import { errorMessage } from "../_text.ts";
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
import { put } from "./snapshot.ts";

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
  /**
   * When `encode()` returned -1 after reading values: the object as read, a plain object of data properties, so
   * that the whole-value copy reads no getter a second time. Taken (and cleared) by the caller.
   */
  read: Record<string, unknown> | undefined;
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
   * end. Fields are written in key order either way. An object found not flat after some values were read is
   * left in `read` as read, the rest of its values read once more each.
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
    let key: string | undefined;
    let field: unknown;
    try {
      for (key in object) {
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
          return this.#refuse(object, keys, types!, n, fields, at, strings, key, field);
        }
        if (field === UNREAD) field = object[key];
        const type = fieldType(field);
        if (type < 0 || (type === FIELD_STRING && (field as string).length > this.#maxChars)) {
          return this.#refuse(object, keys, types!, n, fields, at, strings, key, field);
        }
        keys.push(key);
        types!.push(type);
        if (type === FIELD_NUMBER) fields[f++] = field as number;
        else if (type === FIELD_BOOLEAN) fields[f++] = field ? 1 : 0;
        else strings[s++] = field;
        n++;
      }
      key = undefined;
      // Following the last shape checks no key for being own. for-in gives the own keys first, so an inherited
      // one (an enumerable property added to Object.prototype) comes last: one look at the last key finds it.
      if (keys === undefined && n > 0 && !Object.hasOwn(object, lastKeys[n - 1]!)) {
        return this.#refuse(object, lastKeys, lastTypes, n, fields, at, strings, undefined, UNREAD);
      }
    } catch (error) {
      // A getter threw: recorded as the whole-value copy would, and the rest of the object read.
      field = unserializable(error);
      return this.#refuse(object, keys ?? lastKeys, types ?? lastTypes, n, fields, at, strings, key, field);
    }
    let shape = last;
    if (keys === undefined && n < lastKeys.length) {
      // The keys of the last shape, but fewer of them.
      keys = lastKeys.slice(0, n);
      types = lastTypes.slice(0, n);
    }
    if (keys !== undefined) {
      shape = this.#shapeOf(keys, types!);
      if (shape === undefined) {
        return this.#refuse(object, keys, types!, n, fields, at, strings, undefined, UNREAD);
      }
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

  /**
   * Gives up encoding `object` by shape: its first `n` values were read into the columns (their keys and types
   * given), and `key`'s value into `field` (or not, `UNREAD`). Leaves the object as read in `read`, reading each
   * remaining own enumerable key once; clears the strings written; returns -1.
   */
  #refuse(
    object: Record<string, unknown>,
    keys: readonly string[],
    types: readonly number[],
    n: number,
    fields: Float64Array,
    at: number,
    strings: unknown[],
    key: string | undefined,
    field: unknown,
  ): -1 {
    // The values read into the columns, their strings let go of in the scratch space.
    const known: Array<[string, unknown]> = [];
    let f = at;
    let s = 0;
    for (let k = 0; k < n; k++) {
      const type = types[k];
      if (type === FIELD_STRING) {
        known.push([keys[k]!, strings[s]]);
        strings[s++] = undefined;
      } else known.push([keys[k]!, type === FIELD_NUMBER ? fields[f++] : fields[f++] !== 0]);
    }
    if (key !== undefined) known.push([key, field]);
    try {
      // Own keys only, as the whole-value copy takes them; a key met already is not read again.
      const read: Record<string, unknown> = {};
      for (const [name, value] of known) {
        if (Object.hasOwn(object, name)) put(read, name, value === UNREAD ? readValue(object, name) : value);
      }
      for (const rest in object) {
        if (!Object.hasOwn(read, rest) && Object.hasOwn(object, rest)) {
          put(read, rest, readValue(object, rest));
        }
      }
      this.read = read;
    } catch {
      this.read = undefined; // A Proxy's traps threw: the whole-value copy deals with it.
    }
    return -1;
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

/** One property's value, or what the whole-value copy records when reading it throws. */
function readValue(object: Record<string, unknown>, key: string): unknown {
  try {
    return object[key];
  } catch (error) {
    return unserializable(error);
  }
}

function unserializable(error: unknown): string {
  return `[Unserializable: ${errorMessage(error)}]`;
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
