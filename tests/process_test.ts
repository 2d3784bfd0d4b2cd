import { describe, test } from "node:test";
import { assertEquals } from "@std/assert";
import { runScript } from "./_helpers.ts";

describe("as a program", () => {
  test("the seed demo prints Event: 0 .. Event: 99, then Telemetry stopped, and exits 0", async () => {
    const result = await runScript(new URL("../scripts/demo.ts", import.meta.url));
    const expected =
      Array.from({ length: 100 }, (_, i) => `Event: ${i}`).concat("Telemetry stopped").join("\n") + "\n";
    assertEquals(result.stdout, expected);
    assertEquals(result.stderr, "");
    assertEquals(result.code, 0);
  });

  test("a program that forgets stop() exits by itself, and its pending event is still printed", async () => {
    // 20 s: far above a normal start and exit (well under 1 s), far below a hang.
    const result = await runScript(new URL("./fixtures/forget_stop.ts", import.meta.url), [], 20_000);
    assertEquals(result.signal, null, "killed: the process did not exit by itself");
    assertEquals(result.code, 0);
    assertEquals(result.stdout, "main done\nEvent: forgotten\nTelemetry stopped\n");
  });
});
