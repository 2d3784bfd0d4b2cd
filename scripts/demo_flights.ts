// The main job on real data: bootstrap 95% confidence intervals of the mean arrival delay per distance band
// over the 200,000 flights of the vega-datasets package, on a pool of compute workers (one per core) that
// report progress, metrics and spans to the telemetry sidecar through their own ports. The sidecar draws a progress
// bar per worker on stderr, writes every event as NDJSON and an HTML report of the run, and pushes the metrics to
// a Prometheus Pushgateway and/or exports them over OTLP when given one.
//   deno task demo:flights [--resamples N] [--workers N] [--out FILE] [--report FILE]
//                          [--pushgateway URL] [--otlp URL]
// The last two also come from the environment: TELEMETRY_PUSHGATEWAY and OTEL_EXPORTER_OTLP_ENDPOINT.
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type SinkOption, startTelemetry } from "../mod.ts";
import type { Chunk, FromWorker, ToWorker } from "./flights_worker.ts";

const BANDS = [0, 500, 1000, 1500, 2000, Infinity];
const CHUNK = 25;

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

function findData(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "node_modules", "vega-datasets", "data", "flights-200k.json");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error("flights-200k.json not found: run npm install (it brings vega-datasets)");
    }
    dir = parent;
  }
}

const resamples = Number(flag("resamples", "4000"));
const workers = Number(flag("workers", String(availableParallelism())));
const out = resolve(flag("out", "flights-telemetry.ndjson"));
const reportPath = resolve(flag("report", "flights-report.html"));
const pushgateway = flag("pushgateway", process.env.TELEMETRY_PUSHGATEWAY ?? "");
const otlp = flag("otlp", process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "");
const wallStart = performance.now();

// Load and group delays by distance band, into shared memory the workers read without a copy.
const flights: Array<{ delay: number; distance: number }> = JSON.parse(readFileSync(findData(), "utf8"));
const bandOf = (distance: number) => BANDS.findIndex((upper, i) => i > 0 && distance < upper) - 1;
const counts = new Int32Array(BANDS.length - 1);
for (const f of flights) counts[bandOf(f.distance)]!++;
const offsetsBuffer = new SharedArrayBuffer(BANDS.length * 4);
const offsets = new Int32Array(offsetsBuffer);
for (let b = 0; b < counts.length; b++) offsets[b + 1] = offsets[b]! + counts[b]!;
const delaysBuffer = new SharedArrayBuffer(flights.length * 8);
const delays = new Float64Array(delaysBuffer);
const fill = Int32Array.from(offsets);
for (const f of flights) delays[fill[bandOf(f.distance)]!++] = f.delay;

const sinks: SinkOption[] = [
  { kind: "progress" },
  { kind: "ndjson", path: out },
  { kind: "report", path: reportPath, title: "Flights: bootstrap of arrival delay by distance" },
];
if (pushgateway !== "") sinks.push({ kind: "pushgateway", url: pushgateway, job: "flights-demo" });
if (otlp !== "") sinks.push({ kind: "otlp", endpoint: otlp, resource: { "service.name": "flights-demo" } });
const telemetry = await startTelemetry({ sinks, metricsInterval: 250 });
telemetry.event({ kind: "start", flights: flights.length, bands: counts.length, resamples, workers });
telemetry.log("info", "bootstrap started", { flights: flights.length, resamples, workers });
const run = telemetry.span("bootstrap", { resamples, workers });
const queued = telemetry.gauge("chunks_queued");

const queue: Chunk[] = [];
for (let band = 0; band < counts.length; band++) {
  for (let from = 0; from < resamples; from += CHUNK) {
    queue.push({ band, from, to: Math.min(resamples, from + CHUNK), seed: 1 + band * 1_000_003 + from });
  }
}
const total = queue.length;
// Chunks dealt round-robin, so each worker knows its share and its progress bar has an end and an ETA.
const shares = Array.from({ length: workers }, (_, i) => queue.filter((_, c) => c % workers === i));
const means = Array.from({ length: counts.length }, () => new Float64Array(resamples));
let done = 0;

const pool = Array.from({ length: workers }, (_, i) => {
  const worker = new Worker(new URL("./flights_worker.ts", import.meta.url));
  const port = telemetry.connect(`worker-${i}`);
  const init: ToWorker = {
    kind: "init",
    port,
    name: `worker-${i}`,
    chunks: shares[i]!.length,
    trace: { traceId: run.traceId, spanId: run.spanId },
    delays: delaysBuffer,
    offsets: offsetsBuffer,
  };
  worker.postMessage(init, [port as never]);
  return worker;
});

await Promise.all(pool.map((worker, i) =>
  new Promise<void>((resolveWorker, reject) => {
    const next = () => {
      const chunk = shares[i]!.shift();
      if (chunk === undefined) return resolveWorker();
      worker.postMessage({ kind: "chunk", chunk } satisfies ToWorker);
    };
    worker.on("message", (reply: FromWorker) => {
      means[reply.chunk.band]!.set(reply.means, reply.chunk.from);
      done++;
      queued.set(total - done);
      next();
    });
    worker.on("error", reject);
    next();
  })
));
await Promise.all(pool.map((worker) => worker.terminate()));
run.end();
telemetry.log("info", "bootstrap finished", { chunks: total });

console.log("\nMean arrival delay by distance band, 95% bootstrap confidence interval:");
for (let b = 0; b < counts.length; b++) {
  const sorted = Float64Array.from(means[b]!).sort();
  const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  let sum = 0;
  for (let i = offsets[b]!; i < offsets[b + 1]!; i++) sum += delays[i]!;
  const upper = BANDS[b + 1] === Infinity ? "+     " : `-${String(BANDS[b + 1]).padEnd(5)}`;
  console.log(
    `  ${String(BANDS[b]).padStart(5)}${upper} mi  n=${String(counts[b]).padStart(6)}  mean ${
      (sum / counts[b]!).toFixed(2).padStart(6)
    } min  [${quantile(0.025).toFixed(2)}, ${quantile(0.975).toFixed(2)}]`,
  );
}

const report = await telemetry.stop();
const wall = (performance.now() - wallStart) / 1000;
console.log(
  `\nTelemetry: ${report.handled} of ${report.sent} events handled, ${report.dropped} dropped, ` +
    `${report.errors} sink errors; written to ${out}`,
);
for (const p of report.producers) {
  console.log(`  ${p.name.padEnd(10)} ${String(p.handled).padStart(7)} events`);
}
console.log(`Report: ${reportPath}`);
console.log(`Wall time ${wall.toFixed(2)} s on ${workers} workers, ${resamples} resamples per band`);
