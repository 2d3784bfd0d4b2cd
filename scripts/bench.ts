// What reporting costs a computation, measured in one process run per runtime.
//   deno task bench [--quick | --smoke] [--json PATH]     (also: bun scripts/bench.ts, node scripts/bench.ts)
// Rows: ns per operation on the sending thread. Each row runs the same loop body (a little arithmetic) with one
// report per iteration, several repetitions; the table shows the median and the ratio to event-number.
// Figures: the whole run's view: a CPU-bound kernel's slowdown, the sidecar's throughput end to end, stop()'s
// latency, and the memory that ten million events leave behind (in a child process).
// --quick keeps a run under 30 s; --smoke uses tiny sizes, only to check that everything runs (the test does).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { pino } from "pino";
import { startTelemetry, type Telemetry } from "../mod.ts";

const loadBefore = loadavg();
const smoke = process.argv.includes("--smoke");
const quick = smoke || process.argv.includes("--quick");
const mode = smoke ? "smoke" : quick ? "quick" : "full";
const jsonAt = process.argv.indexOf("--json");
const jsonPath = jsonAt >= 0 ? process.argv[jsonAt + 1] : undefined;
const size = (full: number, quickSize: number, smokeSize: number) =>
  smoke ? smokeSize : quick ? quickSize : full;

const REPS = size(11, 5, 3);
const N = size(1_000_000, 200_000, 50_000);
const N_POST = size(100_000, 20_000, 2_000);
// The workload alternates short chunks of the two arms (about 0.1 s each), so both see the same machine.
const WORKLOAD_REPS = size(60, 24, 3);
const WORKLOAD_EVENTS = size(100_000, 50_000, 20_000);
const THROUGHPUT_EVENTS = size(20_000_000, 4_000_000, 100_000);
const THROUGHPUT_REPS = size(3, 3, 1);
const STOP_REPS = size(100, 20, 5);
const RSS_EVENTS = size(10_000_000, 2_000_000, 200_000);

const COUNT_SINK = new URL("./bench_count_sink.ts", import.meta.url);
const PINO_SINK = new URL("./bench_pino_sink.ts", import.meta.url);
const RSS_CHILD = new URL("./bench_rss.ts", import.meta.url);

interface RuntimeInfo {
  name: "deno" | "bun" | "node";
  version: string;
}

function runtime(): RuntimeInfo {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return { name: "deno", version: g.Deno.version.deno };
  if (g.Bun) return { name: "bun", version: g.Bun.version };
  return { name: "node", version: process.versions.node };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

let sink = 0;

/** Times `body(n)` over `REPS` repetitions; returns ns per iteration for each. */
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

/** A row's result. */
type Row = { medianNs: number; reps: number[] } | "n/a";
const rows: Record<string, Row> = {};
async function row(
  name: string,
  n: number,
  body: (n: number) => void | Promise<void>,
  after?: () => Promise<unknown>,
) {
  const reps = await measure(n, body, after);
  rows[name] = { medianNs: median(reps), reps };
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

const steps = telemetry.counter("bench.steps", { phase: "fit" }, { unit: "1", description: "Loop steps" });
await row("counter-add", N, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += i * 0.5;
    steps.add(1);
  }
  sink += acc;
}, () => telemetry.flush());
const loss = telemetry.histogram("bench.loss", { phase: "fit" }, { description: "Loss per step" });
await row("histogram-record", N, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += i * 0.5;
    loss.record(acc);
  }
  sink += acc;
}, () => telemetry.flush());
const report = await telemetry.stop();

// pino through its worker-thread transport to a destination that discards; each timed loop ends with pino's
// flush, which waits until the transport's worker has taken every line from the shared buffer.
{
  const transport = pino.transport({ target: PINO_SINK.href });
  await new Promise((resolve) => transport.once("ready", resolve));
  const logger = pino(transport);
  const flushed = () =>
    new Promise<void>((resolve, reject) => logger.flush((error) => error ? reject(error) : resolve()));
  await row("pino-transport", N_POST * 2, async (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += i * 0.5;
      logger.info({ step: i, loss: acc, phase: "fit" });
    }
    sink += acc;
    await flushed();
  });
  // The transport unrefs its worker once ready; hold the process until the worker has ended (ref() is there at
  // run time, though pino's types leave it out).
  (transport as unknown as { ref(): void }).ref();
  const closed = new Promise((resolve) => transport.once("close", resolve));
  transport.end();
  await closed;
}

// OpenTelemetry's metrics SDK in process: a counter with fixed attributes, aggregated at each add(), read by a
// reader that is only collected once at the end (to check the sum).
class HeldReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}
let otelAdds = 0;
let otelSum: unknown;
{
  const reader = new HeldReader();
  const provider = new MeterProvider({ readers: [reader] });
  const steps = provider.getMeter("bench").createCounter("bench.steps", {
    unit: "1",
    description: "Loop steps",
  });
  const attributes = { phase: "fit" };
  await row("otel-counter-add", N, (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += i * 0.5;
      steps.add(1, attributes);
    }
    sink += acc;
    otelAdds += n;
  });
  const { resourceMetrics } = await reader.collect();
  otelSum = resourceMetrics.scopeMetrics[0]?.metrics[0]?.dataPoints[0]?.value;
  await provider.shutdown();
}

// ---- Whole-run figures ----

/** A deterministic, skewed sample (minutes of delay, most near zero, a long tail), like the flights demo's data. */
function sampleData(length: number): Float64Array {
  const data = new Float64Array(length);
  let state = 12345;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    const u = ((state >>> 0) + 0.5) / 4294967296;
    data[i] = -15 + -30 * Math.log(u);
  }
  return data;
}

/**
 * The flights demo's kernel: `resamples` bootstrap means of `draws` values drawn from `data` with a seeded
 * xorshift32. Returns the sum of the means.
 */
function bootstrap(data: Float64Array, draws: number, resamples: number): number {
  const n = data.length;
  let state = 0x9e3779b9 | 0;
  let total = 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < draws; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      sum += data[(((state >>> 0) / 4294967296) * n) | 0]!;
    }
    const mean = sum / draws;
    total += mean;
  }
  return total;
}

// The same kernel plus one event() per resample. A copy rather than an optional argument: one function called
// both ways is compiled for both, and the plain arm would then pay for the reporting one.
function bootstrapReported(
  data: Float64Array,
  draws: number,
  resamples: number,
  telemetry: Telemetry,
): number {
  const n = data.length;
  let state = 0x9e3779b9 | 0;
  let total = 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < draws; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      sum += data[(((state >>> 0) / 4294967296) * n) | 0]!;
    }
    const mean = sum / draws;
    total += mean;
    telemetry.event(mean);
  }
  return total;
}

/** A reporter whose `event()` only counts: the workload's floor, what a second compiled kernel with a call costs. */
class CountingReporter {
  count = 0;
  event(_value: number): void {
    this.count++;
  }
}

// The same kernel once more, reporting to the counting reporter: a copy of its own, as for the reporting arm.
function bootstrapCounted(
  data: Float64Array,
  draws: number,
  resamples: number,
  reporter: CountingReporter,
): number {
  const n = data.length;
  let state = 0x9e3779b9 | 0;
  let total = 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < draws; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      sum += data[(((state >>> 0) / 4294967296) * n) | 0]!;
    }
    const mean = sum / draws;
    total += mean;
    reporter.event(mean);
  }
  return total;
}

/** The mean of the middle half of `values`: a pair hit by a stall of the machine or the compiler is left out. */
function middleMean(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.slice(Math.floor(sorted.length / 4), Math.ceil((sorted.length * 3) / 4));
  return middle.reduce((a, b) => a + b, 0) / middle.length;
}

function countSink(shared: Int32Array) {
  return { kind: "custom" as const, module: COUNT_SINK, options: { shared } };
}

/** Percent by which one event per resample (about 1M per second) slows the kernel, alternating the two arms. */
async function workloadSlowdown() {
  const data = sampleData(200_000);
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const telemetry = await startTelemetry({ sinks: [countSink(shared)] });
  // Warm both arms, alternating, so neither runs in a tier the other left behind.
  for (let r = 0; r < 3; r++) {
    sink += bootstrap(data, 100, 20_000);
    sink += bootstrapReported(data, 100, 20_000, telemetry);
    await telemetry.flush();
  }
  // Pick the draws per resample that make one resample take about 1 us on this runtime. Other load only ever
  // slows a probe down, so the fastest of five is the truest.
  let probeMs = Infinity;
  for (let r = 0; r < 5; r++) {
    const started = performance.now();
    sink += bootstrap(data, 100, 50_000);
    probeMs = Math.min(probeMs, performance.now() - started);
  }
  const draws = Math.max(8, Math.round(1000 / ((probeMs * 1e6) / (100 * 50_000))));
  const plainMs: number[] = [];
  const withMs: number[] = [];
  const plain = () => {
    const started = performance.now();
    sink += bootstrap(data, draws, WORKLOAD_EVENTS);
    plainMs.push(performance.now() - started);
  };
  const reported = () => {
    const started = performance.now();
    sink += bootstrapReported(data, draws, WORKLOAD_EVENTS, telemetry);
    withMs.push(performance.now() - started);
  };
  for (let r = 0; r < WORKLOAD_REPS; r++) {
    if (r % 2 === 0) {
      plain();
      reported();
    } else {
      reported();
      plain();
    }
    // Between pairs, not inside a timed chunk: lets the end-of-turn post run, as a real program's turns do.
    await null;
  }
  // The reporting arm is done once its events are handled: the final wait counts against it.
  const flushStarted = performance.now();
  await telemetry.flush();
  const flushMs = performance.now() - flushStarted;
  const stopped = await telemetry.stop();
  const totalPlain = plainMs.reduce((a, b) => a + b, 0);
  const totalWith = withMs.reduce((a, b) => a + b, 0) + flushMs;
  const slowdowns = withMs.map((ms, r) => (ms / plainMs[r]! - 1) * 100);
  // The floor, measured after: half as many pairs of the plain kernel and a copy reporting to an event() that
  // only counts. What the reporting arm loses beyond it is the library's.
  const reporter = new CountingReporter();
  for (let r = 0; r < 3; r++) sink += bootstrapCounted(data, 100, 20_000, reporter);
  const floors: number[] = [];
  for (let r = 0; r < Math.max(1, WORKLOAD_REPS / 2); r++) {
    let started = performance.now();
    sink += bootstrap(data, draws, WORKLOAD_EVENTS);
    const plain = performance.now() - started;
    started = performance.now();
    sink += bootstrapCounted(data, draws, WORKLOAD_EVENTS, reporter);
    floors.push(((performance.now() - started) / plain - 1) * 100);
  }
  // Pairs run back to back (about 0.1 s each), so both arms see the same machine; the middle half is averaged.
  return {
    value: middleMean(slowdowns),
    floorPct: middleMean(floors),
    totalsPct: (totalWith / totalPlain - 1) * 100,
    slowdownsPct: slowdowns,
    pairMedianPct: median(slowdowns),
    eventsPerSecond: WORKLOAD_EVENTS / (median(plainMs) / 1000),
    drawsPerResample: draws,
    eventsPerRep: WORKLOAD_EVENTS,
    plainMs,
    withTelemetryMs: withMs,
    flushMs,
    sent: stopped.sent,
    handled: Atomics.load(shared, 0),
    dropped: stopped.dropped,
  };
}

/** Numeric events per second from the first event() to stop() resolving, through the counting sink. */
async function sidecarThroughput() {
  const runs: Array<{ eventsPerSecond: number; sendMs: number; totalMs: number; handled: number }> = [];
  for (let r = 0; r < THROUGHPUT_REPS; r++) {
    const shared = new Int32Array(new SharedArrayBuffer(4));
    // "block": the sender waits at maxQueued instead of dropping, so every event sent is counted.
    const telemetry = await startTelemetry({ sinks: [countSink(shared)], overflow: "block" });
    const started = performance.now();
    for (let i = 0; i < THROUGHPUT_EVENTS; i++) telemetry.event(i);
    const sent = performance.now();
    await telemetry.stop();
    const totalMs = performance.now() - started;
    runs.push({
      eventsPerSecond: THROUGHPUT_EVENTS / (totalMs / 1000),
      sendMs: sent - started,
      totalMs,
      handled: Atomics.load(shared, 0),
    });
  }
  const middle = [...runs].sort((a, b) =>
    a.eventsPerSecond - b.eventsPerSecond
  )[Math.floor(runs.length / 2)]!;
  return {
    value: middle.eventsPerSecond,
    sent: THROUGHPUT_EVENTS,
    handled: Math.min(...runs.map((run) => run.handled)),
    sendMs: middle.sendMs,
    totalMs: middle.totalMs,
    runs,
  };
}

/** Milliseconds that `await telemetry.stop()` takes with nothing queued and no sinks. */
async function stopLatency() {
  const runsMs: number[] = [];
  for (let r = 0; r < STOP_REPS; r++) {
    const telemetry = await startTelemetry({ sinks: [] });
    const started = performance.now();
    await telemetry.stop();
    runsMs.push(performance.now() - started);
  }
  return { value: median(runsMs), runsMs };
}

/** The command that runs `script` on this runtime with a collector exposed. */
function childCommand(script: URL): [string, string[]] {
  const file = fileURLToPath(script);
  const name = runtime().name;
  if (name === "deno") return [process.execPath, ["run", "-A", "--v8-flags=--expose-gc", file]];
  if (name === "bun") return [process.execPath, [file]];
  return [process.execPath, ["--expose-gc", file]];
}

interface RssChild {
  events: number;
  beforeBytes: number;
  afterBytes: number;
  peakBytes: number;
  collected: boolean;
  sent: number;
  handled: number;
  dropped: number;
}

/** RSS growth in MiB after RSS_EVENTS events with default settings, measured in a child process. */
function rssGrowth() {
  const [command, args] = childCommand(RSS_CHILD);
  return new Promise<RssChild & { value: number; peakGrowthMiB: number }>((resolve, reject) => {
    const child = spawn(command, [...args, String(RSS_EVENTS)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    // Far above the full run's few seconds: only a hung child gets here.
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        reject(new Error(`RSS child exited with ${code}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      const result = JSON.parse(line) as RssChild;
      if (stderr.trim() !== "") console.log(`rss child: ${stderr.trim()}`);
      resolve({
        value: (result.afterBytes - result.beforeBytes) / 2 ** 20,
        peakGrowthMiB: (result.peakBytes - result.beforeBytes) / 2 ** 20,
        ...result,
      });
    });
  });
}

const figures = {
  "workload-slowdown-pct": await workloadSlowdown(),
  "sidecar-events-per-s": await sidecarThroughput(),
  "stop-latency-ms": await stopLatency(),
  "rss-growth-mib-10m": await rssGrowth(),
};

// ---- Report ----

const info = runtime();
const base = rows["event-number"] as { medianNs: number };
const load = { before: loadBefore, after: loadavg() };
console.log(
  `${info.name} ${info.version}, ${mode} run, ${REPS} repetitions, median ns per operation on the sending thread`,
);
// Other work on the machine moves every figure (the sidecar needs a core of its own): say how busy it was.
console.log(`load average ${load.before[0]!.toFixed(2)} at start, ${load.after[0]!.toFixed(2)} at end`);
console.log(`${"row".padEnd(24)}${"ns/op".padStart(10)}${"÷ event-number".padStart(16)}`);
for (const [name, result] of Object.entries(rows)) {
  const [ns, ratio] = result === "n/a"
    ? ["n/a", "n/a"]
    : [result.medianNs.toFixed(1), `${(result.medianNs / base.medianNs).toFixed(1)}x`];
  console.log(`${name.padEnd(24)}${ns.padStart(10)}${ratio.padStart(16)}`);
}
console.log("(pino-transport includes pino's flush at the end of each timed loop)");

const workload = figures["workload-slowdown-pct"];
const throughput = figures["sidecar-events-per-s"];
const stopping = figures["stop-latency-ms"];
const rss = figures["rss-growth-mib-10m"];
const figureLines: Array<[string, string, string, boolean, string]> = [
  [
    "workload-slowdown-pct",
    workload.value.toFixed(2),
    "<= 3",
    workload.value <= 3,
    `${
      (workload.eventsPerSecond / 1e6).toFixed(2)
    }M events/s, mean of the middle half of ${WORKLOAD_REPS} pairs of ` +
    `${WORKLOAD_EVENTS / 1000}k events; totals ${
      workload.plainMs.reduce((a, b) => a + b, 0).toFixed(0)
    } ms ` +
    `plain, ${(workload.withTelemetryMs.reduce((a, b) => a + b, 0) + workload.flushMs).toFixed(0)} ms ` +
    `reporting (${workload.totalsPct.toFixed(1)}% on totals, pair median ${
      workload.pairMedianPct.toFixed(1)
    }%); floor ${workload.floorPct.toFixed(2)}% (an event() that only counts)`,
  ],
  [
    "sidecar-events-per-s",
    `${(throughput.value / 1e6).toFixed(2)}M`,
    ">= 20M",
    throughput.value >= 20e6,
    `${throughput.handled} of ${throughput.sent} handled; sending ${throughput.sendMs.toFixed(0)} ms of ` +
    `${throughput.totalMs.toFixed(0)} ms`,
  ],
  [
    "stop-latency-ms",
    stopping.value.toFixed(3),
    "<= 2",
    stopping.value <= 2,
    `median of ${STOP_REPS}, max ${Math.max(...stopping.runsMs).toFixed(3)} ms`,
  ],
  [
    "rss-growth-mib-10m",
    rss.value.toFixed(1),
    "<= 64",
    rss.value <= 64,
    `${rss.events} events, peak +${rss.peakGrowthMiB.toFixed(1)} MiB, ${rss.dropped} dropped` +
    (rss.collected ? ", after a full GC" : ", no GC available"),
  ],
];
console.log(`\n${"figure".padEnd(24)}${"value".padStart(10)}${"target".padStart(9)}  `);
for (const [name, value, target, met, detail] of figureLines) {
  console.log(
    `${name.padEnd(24)}${value.padStart(10)}${target.padStart(9)}  ${met ? "met " : "MISS"}  ${detail}`,
  );
}

const checks = {
  eventsSent: report.sent,
  eventsHandled: report.handled,
  eventsDropped: report.dropped,
  otelAdds,
  otelSum,
};
console.log(
  `\nevents handled by the sidecar: ${report.handled} of ${report.sent}, ${report.dropped} dropped`,
);
if (jsonPath) {
  const json = { runtime: info, mode, repetitions: REPS, load, rows, figures, checks };
  writeFileSync(jsonPath, JSON.stringify(json, null, 2));
}
const problems = [
  report.handled !== report.sent || report.dropped !== 0 ? "the sidecar did not handle every row event" : "",
  throughput.handled !== throughput.sent ? "the counting sink did not see every throughput event" : "",
  otelSum !== otelAdds ? `the OpenTelemetry counter reads ${otelSum}, not ${otelAdds}` : "",
  sink > 0 ? "" : "the loops computed nothing",
].filter((problem) => problem !== "");
if (problems.length > 0) {
  console.error(`Benchmark invalid: ${problems.join("; ")}`);
  process.exit(1);
}
