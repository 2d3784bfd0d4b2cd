// Cost on the sending thread, in ns per operation, of each way to report from a hot loop, in one process run.
//   deno task bench [--quick] [--json PATH]        (also: bun scripts/bench.ts, node scripts/bench.ts)
// Each row runs the same loop body (a little arithmetic) with one report per iteration, several repetitions;
// the table shows the median and the ratio to event-number.
import { writeFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { startTelemetry } from "../mod.ts";

const quick = process.argv.includes("--quick");
const jsonAt = process.argv.indexOf("--json");
const jsonPath = jsonAt >= 0 ? process.argv[jsonAt + 1] : undefined;
const REPS = quick ? 5 : 11;
const N = quick ? 200_000 : 1_000_000;
const N_POST = quick ? 20_000 : 100_000;

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

let sink = 0;

/** Times `body(n)` over `reps` repetitions; returns ns per iteration for each. */
async function measure(n: number, body: (n: number) => void | Promise<void>, after?: () => Promise<unknown>) {
  const runs: number[] = [];
  await body(Math.min(n, 10_000)); // warm up
  if (after) await after();
  for (let r = 0; r < REPS; r++) {
    const started = performance.now();
    await body(n);
    runs.push(((performance.now() - started) * 1e6) / n);
    if (after) await after();
  }
  return runs;
}

const rows: Record<string, { medianNs: number; runsNs: number[] }> = {};
async function row(
  name: string,
  n: number,
  body: (n: number) => void | Promise<void>,
  after?: () => Promise<unknown>,
) {
  const runs = await measure(n, body, after);
  rows[name] = { medianNs: median(runs), runsNs: runs };
}

await row("baseline", N, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += i * 0.5;
  sink += acc;
});

const worker = new Worker(new URL("./bench_worker.ts", import.meta.url));
const countReceived = () =>
  new Promise<number>((resolve) => {
    worker.once("message", (count: number) => resolve(count));
    worker.postMessage("count?");
  });
await row("postmessage-per-event", N_POST, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += i * 0.5;
    worker.postMessage(acc);
  }
  sink += acc;
}, async () => void (await countReceived()));
await worker.terminate();

const telemetry = await startTelemetry({ sinks: [] });
await row("event-number", N, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += i * 0.5;
    telemetry.event(acc);
  }
  sink += acc;
}, () => telemetry.flush());
await row("event-object", N_POST * 2, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += i * 0.5;
    telemetry.event({ step: i, loss: acc, phase: "fit" });
  }
  sink += acc;
}, () => telemetry.flush());
// One event per turn of the event loop (an async pipeline): each turn posts its few events on its own.
await row("event-per-turn", N_POST / 4, async (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += i * 0.5;
    telemetry.event(acc);
    await null;
  }
  sink += acc;
}, () => telemetry.flush());
const report = await telemetry.stop();

const base = rows["event-number"]!.medianNs;
console.log(`${runtime()}, ${REPS} repetitions, median ns per operation on the sending thread`);
console.log(`${"row".padEnd(24)}${"ns/op".padStart(10)}${"÷ event-number".padStart(16)}`);
for (const [name, { medianNs }] of Object.entries(rows)) {
  console.log(
    `${name.padEnd(24)}${medianNs.toFixed(1).padStart(10)}${(medianNs / base).toFixed(1).padStart(15)}x`,
  );
}
const checks = { eventsSent: report.sent, eventsHandled: report.handled, eventsDropped: report.dropped };
console.log(`events handled by the sidecar: ${report.handled} of ${report.sent}, ${report.dropped} dropped`);
if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ runtime: runtime(), quick, rows, checks }, null, 2));
if (report.handled !== report.sent || report.dropped !== 0 || !(sink > 0)) {
  console.error("Benchmark invalid: the sidecar did not handle every event sent");
  process.exit(1);
}
