// A compute worker of the flights demo: draws bootstrap resamples of one distance band's arrival delays and
// reports each chunk's timing and progress to the telemetry sidecar through its own port.
import { parentPort } from "node:worker_threads";
import {
  attachTelemetry,
  type Counter,
  type SpanContext,
  type TelemetryProducer,
  type Timer,
} from "../mod.ts";

/** The data, shared by every worker without a copy: delays grouped by band. */
export interface FlightsData {
  delays: Float64Array;
  /** Start offset of each band in `delays`; band b is [offsets[b], offsets[b + 1]). */
  offsets: Int32Array;
}

/** One unit of work: resamples [from, to) of a band. */
export interface Chunk {
  band: number;
  from: number;
  to: number;
  seed: number;
}

export type ToWorker =
  | {
    kind: "init";
    port: MessagePort;
    name: string;
    delays: SharedArrayBuffer;
    offsets: SharedArrayBuffer;
    /** Chunks this worker will get: its progress total. */
    chunks: number;
    /** The run's span: each chunk's span is its child. */
    trace: SpanContext;
  }
  | { kind: "chunk"; chunk: Chunk };

export type FromWorker = { kind: "result"; chunk: Chunk; means: Float64Array; ms: number };

let data: FlightsData | undefined;
let telemetry: TelemetryProducer | undefined;
let name = "";
let resamplesDone: Counter[] = [];
let chunkTimer: Timer | undefined;
let chunksDone = 0;
let trace: SpanContext | undefined;
let chunksTotal = 0;

/** A small, fast, seeded generator (xorshift32), so a run is reproducible. */
function random(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function resample(chunk: Chunk): Float64Array {
  const { delays, offsets } = data!;
  const start = offsets[chunk.band]!;
  const n = offsets[chunk.band + 1]! - start;
  const next = random(chunk.seed);
  const means = new Float64Array(chunk.to - chunk.from);
  for (let r = 0; r < means.length; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += delays[start + ((next() * n) | 0)]!;
    means[r] = sum / n;
    telemetry!.event(r + chunk.from);
    resamplesDone[chunk.band]!.add();
  }
  return means;
}

parentPort!.on("message", (message: ToWorker) => {
  if (message.kind === "init") {
    data = { delays: new Float64Array(message.delays), offsets: new Int32Array(message.offsets) };
    telemetry = attachTelemetry(message.port);
    name = message.name;
    trace = message.trace;
    chunksTotal = message.chunks;
    resamplesDone = [0, 1, 2, 3, 4].map((band) => telemetry!.counter("resamples", { band: String(band) }));
    chunkTimer = telemetry.timer("chunk_ms");
    return;
  }
  const { band, from, to } = message.chunk;
  const span = telemetry!.span("chunk", { band, from, to, worker: name }, trace);
  const stop = chunkTimer!.start();
  const started = performance.now();
  const means = resample(message.chunk);
  const ms = performance.now() - started;
  stop();
  span.end();
  telemetry!.event({ kind: "chunk", worker: name, band, from, to, resamples: to - from, ms });
  telemetry!.progress(++chunksDone, chunksTotal);
  // Post this turn's events before saying done: the pool may be terminated right after the last answer.
  telemetry!.flush();
  const reply: FromWorker = { kind: "result", chunk: message.chunk, means, ms };
  parentPort!.postMessage(reply);
});
