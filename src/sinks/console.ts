import { formatValue } from "./_format.ts";
import { writeTerminal } from "./_terminal.ts";
import type { EventBatch, Sink } from "./sink.ts";

const CHUNK = 1 << 20;

/**
 * Prints `Event: <value>` per event on stdout and `Telemetry stopped` at close. Writes are synchronous from the
 * sidecar's thread, so every line is out before `flush()` or `stop()` resolves. While a progress block is drawn on
 * the terminal, each write goes above it.
 */
export function consoleSink(): Sink {
  return {
    handle(batch: EventBatch): void {
      let text = "";
      for (let i = 0; i < batch.length; i++) {
        text += `Event: ${formatValue(batch.values[i])}\n`;
        // Written in pieces: a batch of large values could pass the engine's longest string.
        if (text.length > CHUNK) {
          writeTerminal(1, text);
          text = "";
        }
      }
      if (text !== "") writeTerminal(1, text);
    },
    close(): void {
      writeTerminal(1, "Telemetry stopped\n");
    },
  };
}
