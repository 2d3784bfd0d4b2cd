import { builtin, type NodeFs } from "./builtin.ts";

/** A file opened for appending text with synchronous writes. */
export interface TextFile {
  write(text: string): void;
  close(): void;
}

const encoder = new TextEncoder();

/**
 * Opens (creates or truncates) a file for writing text.
 *
 * @throws {Error} When the runtime has no file system access or the file cannot be opened.
 */
export function openTextFile(path: string): TextFile {
  const fs = builtin<NodeFs>("node:fs");
  if (fs === undefined) throw new Error(`Cannot write ${path}: this runtime has no node:fs`);
  const fd = fs.openSync(path, "w");
  return {
    write(text) {
      const bytes = encoder.encode(text);
      let offset = 0;
      while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    },
    close() {
      fs.closeSync(fd);
    },
  };
}
