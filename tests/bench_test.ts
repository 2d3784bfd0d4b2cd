import { describe, test } from "node:test";
import { assert, assertEquals } from "@std/assert";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runScript, tempDir } from "./_helpers.ts";

const ROWS = [
  "baseline",
  "postmessage-per-event",
  "event-number",
  "event-object",
  "event-per-turn",
  "counter-add",
  "histogram-record",
  "pino-transport",
  "otel-counter-add",
];
const FIGURES = ["workload-slowdown-pct", "sidecar-events-per-s", "stop-latency-ms", "rss-growth-mib-10m"];

interface BenchJson {
  runtime: { name: string; version: string };
  mode: string;
  repetitions: number;
  rows: Record<string, { medianNs: number; reps: number[] } | "n/a">;
  figures: Record<string, { value: number } & Record<string, unknown>>;
  checks: { eventsSent: number; eventsHandled: number; eventsDropped: number };
}

function runtimeName(): string {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  return g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";
}

const positive = (value: unknown) => typeof value === "number" && Number.isFinite(value) && value > 0;

describe("benchmark", () => {
  // 60 s per test: the smoke run takes a few seconds; the bound is for a loaded machine (bun's default is 5 s).
  test("bench --smoke measures every row and figure and writes them as JSON, with every event handled", {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir();
    try {
      const path = join(dir, "bench.json");
      // 50 s: ten times a smoke run on this machine, and below the test's own bound, so a hang reports its output.
      const result = await runScript(
        new URL("../scripts/bench.ts", import.meta.url),
        ["--smoke", "--json", path],
        50_000,
      );
      assertEquals(
        result.signal,
        null,
        `killed: the bench did not finish\n${result.stdout}\n${result.stderr}`,
      );
      assertEquals(result.code, 0, result.stderr);
      const json = JSON.parse(readFileSync(path, "utf8")) as BenchJson;

      assertEquals(json.runtime.name, runtimeName());
      assert(json.runtime.version !== "", "runtime version is empty");
      assertEquals(json.mode, "smoke");
      assertEquals(Object.keys(json.rows).sort(), [...ROWS].sort());
      for (const name of ROWS) {
        const row = json.rows[name]!;
        assert(row !== "n/a", `row ${name} is n/a`);
        assert(positive(row.medianNs), `row ${name}: medianNs ${row.medianNs}`);
        assertEquals(row.reps.length, json.repetitions, `row ${name}: repetitions`);
        assert(row.reps.every(positive), `row ${name}: reps ${row.reps}`);
        assert(result.stdout.includes(name), `row ${name} is not in the printed table`);
      }
      assertEquals(json.checks.eventsHandled, json.checks.eventsSent);
      assertEquals(json.checks.eventsDropped, 0);

      assertEquals(Object.keys(json.figures).sort(), [...FIGURES].sort());
      for (const name of FIGURES) {
        assert(
          Number.isFinite(json.figures[name]!.value),
          `figure ${name}: value ${json.figures[name]!.value}`,
        );
        assert(result.stdout.includes(name), `figure ${name} is not in the printed output`);
      }
      const throughput = json.figures["sidecar-events-per-s"]!;
      assert(positive(throughput.value));
      assert(positive(throughput.sent));
      assertEquals(throughput.handled, throughput.sent);
      const workload = json.figures["workload-slowdown-pct"]!;
      assertEquals(workload.handled, workload.sent);
      assertEquals(workload.dropped, 0);
      assert(Number.isFinite(workload.value) && Number.isFinite(workload.floorPct), "workload and its floor");
      const stop = json.figures["stop-latency-ms"]!;
      assert(positive(stop.value));
      assert((stop.runsMs as number[]).every(positive), "stop latencies");
      const rss = json.figures["rss-growth-mib-10m"]!;
      assert(positive(rss.events));
      assertEquals(rss.sent, rss.events);
      assertEquals((rss.handled as number) + (rss.dropped as number), rss.sent);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
