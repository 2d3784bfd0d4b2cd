// The benchmark's memory figure, run in a child process of its own so nothing else the benchmark did is in its
// RSS: starts a telemetry with default settings and the counting sink, sends N numeric events from a loop that
// yields every 65,536 events, and prints one JSON line with the RSS before, at its peak, and after every event
// was handled (after a collection where the runtime offers one).
//   <runtime> scripts/bench_rss.ts N          (node needs --expose-gc, deno --v8-flags=--expose-gc to collect)
import { startTelemetry } from "../mod.ts";

const CHUNK = 65_536;
const events = Number(process.argv[2] ?? 10_000_000);
if (!Number.isInteger(events) || events < 1) {
  console.error(`Invalid event count ${JSON.stringify(process.argv[2])}: pass a positive integer`);
  process.exit(2);
}

/** The runtime's full collection, if it exposes one. */
function collector(): (() => void) | undefined {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (typeof g.gc === "function") return g.gc;
  const bun = g.Bun;
  if (bun) return () => bun.gc(true);
  return undefined;
}

const gc = collector();
const shared = new Int32Array(new SharedArrayBuffer(4));
const telemetry = await startTelemetry({
  sinks: [{ kind: "custom", module: new URL("./bench_count_sink.ts", import.meta.url), options: { shared } }],
});
// Warm both ends first, so that loading code is not counted as growth.
for (let i = 0; i < CHUNK; i++) telemetry.event(i);
await telemetry.flush();
gc?.();
const before = process.memoryUsage.rss();
let peak = before;
for (let sent = 0; sent < events;) {
  const end = Math.min(events, sent + CHUNK);
  for (; sent < end; sent++) telemetry.event(sent * 0.5);
  // A program's loop that lets its event loop turn now and then, as the default settings expect.
  await new Promise((resolve) => setTimeout(resolve, 0));
  peak = Math.max(peak, process.memoryUsage.rss());
}
await telemetry.flush();
gc?.();
const after = process.memoryUsage.rss();
const report = await telemetry.stop();
console.log(JSON.stringify({
  events,
  beforeBytes: before,
  afterBytes: after,
  peakBytes: Math.max(peak, after),
  collected: gc !== undefined,
  sent: report.sent - CHUNK,
  handled: Atomics.load(shared, 0) - CHUNK,
  dropped: report.dropped,
}));
