import { openTextFile, type TextFile } from "../runtime/file.ts";
import { toJsonLine } from "./_json.ts";
import type { EventBatch, Sink } from "./sink.ts";

const CHUNK = 1 << 20;

/**
 * Writes one JSON object per event to a file: `{"time":<epoch ms>,"producer":"<name>","value":<value>}`.
 * Values are encoded by the rules of `toJsonLine`, so every line is valid JSON.
 */
export function ndjsonSink(path: string): Sink {
  const file: TextFile = openTextFile(path);
  return {
    handle(batch: EventBatch): void {
      const producer = JSON.stringify(batch.producer.name);
      let text = "";
      for (let i = 0; i < batch.length; i++) {
        text += `{"time":${batch.times[i]},"producer":${producer},"value":${toJsonLine(batch.values[i])}}\n`;
        // Written in pieces: a batch of large values could pass the engine's longest string.
        if (text.length > CHUNK) {
          file.write(text);
          text = "";
        }
      }
      if (text !== "") file.write(text);
    },
    close(): void {
      file.close();
    },
  };
}
