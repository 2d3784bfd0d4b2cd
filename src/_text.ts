/**
 * Text for messages, shared by both sides: how an option's value is named in an error, and an error's message
 * read without ever throwing.
 *
 * @module
 */

/** Names a value in an option error: strings quoted, objects and arrays by their kind, other values as text. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" && value !== null) return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}

/** An error's message, or the thrown value as text; never throws (a message that throws when read is named so). */
export function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return "unreadable error";
  }
}
