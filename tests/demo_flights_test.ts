import { describe, test } from "node:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assert, assertEquals } from "@std/assert";
import { runtimeCommand, screensInTerminal, tempDir } from "./_helpers.ts";

describe("flights demo", () => {
  test("in a real terminal: a bar per worker and a total advance, end at 100%, and the results print whole", async () => {
    const dir = tempDir();
    const bar = /^(worker-[01]|total) +\[[=> ]{30}\] +\d+% \d+\/\d+ [\d.?k]+\/s \w+( ETA [\w?]+)?$/;
    // With 4000 resamples the demo takes about 2 s here, long enough for the 50 ms captures to see the total
    // rise; 60 s covers a loaded machine and a cold start.
    const screens = await screensInTerminal(
      [
        ...runtimeCommand(new URL("../scripts/demo_flights.ts", import.meta.url)),
        "--resamples",
        "4000",
        "--workers",
        "2",
        "--out",
        join(dir, "run.ndjson"),
        "--report",
        join(dir, "run.html"),
      ],
      { columns: 110, rows: 60 },
      60_000,
    );
    const last = screens.at(-1)!;
    assertEquals(last.at(-1), "EXIT=0", last.join("\n"));
    // The result table printed whole: five bands, each line intact.
    const bands = last.filter((line) =>
      /^ +\d+[-+ ]\S* +mi +n= *\d+ +mean +-?[\d.]+ min +\[[-\d.]+, [-\d.]+\]$/.test(line)
    );
    assertEquals(bands.length, 5, last.join("\n"));
    // No line mixes a bar with other output.
    for (const screen of screens) {
      for (const line of screen) {
        if (line.includes("[=") || line.includes("ETA")) {
          assert(bar.test(line), `A garbled line: ${JSON.stringify(line)}`);
        }
      }
    }
    // The final block: every bar at 100%; while the run went, the total was seen below 100 and rising.
    const finalBars = last.filter((line) => bar.test(line));
    assertEquals(finalBars.map((line) => line.split(/ +/)[0]).sort(), ["total", "worker-0", "worker-1"]);
    assert(finalBars.every((line) => line.includes("] 100% ")), finalBars.join("\n"));
    const totals = screens.flatMap((s) =>
      s.filter((l) => l.startsWith("total ")).map((l) => Number(/(\d+)%/.exec(l)![1]))
    );
    const below = [...new Set(totals.filter((p) => p < 100))];
    assert(below.length >= 2, `total was seen at ${below.join(", ")}%`);
    assertEquals(below, [...below].sort((a, b) => a - b));
    // The other sinks wrote their files.
    assert(
      existsSync(join(dir, "run.html")) && readFileSync(join(dir, "run.html"), "utf8").includes("chunk_ms"),
    );
    assert(readFileSync(join(dir, "run.ndjson"), "utf8").split("\n").length > 500);
  });
});
