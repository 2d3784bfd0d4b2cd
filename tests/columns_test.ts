import { describe, test } from "node:test";
import { assert, assertEquals } from "@std/assert";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { startTelemetry, type StopReport } from "../mod.ts";
import { Producer } from "../src/producer/producer.ts";
import {
  type BatchMessage,
  columnsBytes,
  columnsOf,
  createSlot,
  KIND_NUMBER,
  releaseColumns,
} from "../src/protocol.ts";
import { tempDir } from "./_helpers.ts";
import type { Retained } from "./fixtures/retain_sink.ts";

const PRODUCER_WORKER = new URL("./fixtures/producer_worker.ts", import.meta.url);

interface Posted {
  message: BatchMessage;
  transfer: readonly unknown[];
}

/** A producer whose batches are kept here instead of going to a sidecar. */
function capture(batchSize: number): { producer: Producer; posted: Posted[] } {
  const posted: Posted[] = [];
  const clock = new Int32Array(new SharedArrayBuffer(8));
  clock[1] = 1; // awake: the producer does not try to wake a sidecar that is not there
  const producer = new Producer(
    { id: 0, name: "main", slot: createSlot(), clock },
    (message, transfer) => {
      if (message.kind === "batch") posted.push({ message, transfer });
    },
    { batchSize, maxQueued: 1e9, overflow: "drop", maxEventBytes: 1 << 20 },
  );
  return { producer, posted };
}

/** The numbers of a batch, read as the sidecar reads them, then handed back as the sidecar does. */
function readAndRelease(message: BatchMessage): number[] {
  const batch = columnsOf(message);
  const values: number[] = [];
  for (let i = 0; i < batch.count; i++) values.push(batch.kinds[i] === KIND_NUMBER ? batch.numbers[i]! : NaN);
  releaseColumns(batch);
  return values;
}

describe("batch columns", () => {
  test("full batches travel in shared buffers, nothing is transferred, and a freed buffer is written again", () => {
    const { producer, posted } = capture(100);
    for (let i = 0; i < 300; i++) producer.event(i);
    assertEquals(posted.length, 3);
    for (const { message, transfer } of posted) {
      assert(message.columns instanceof SharedArrayBuffer, "columns are shared memory");
      assert(message.pooled);
      assertEquals(transfer.length, 0, "a transferred buffer would be detached on this thread");
    }
    assertEquals(new Set(posted.map((p) => p.message.columns)).size, 3, "none is reused before it was read");
    assertEquals(readAndRelease(posted[0]!.message), Array.from({ length: 100 }, (_, i) => i));
    for (let i = 300; i < 500; i++) producer.event(i);
    // The fourth batch went in the buffer taken at the third post, the fifth in the buffer freed above.
    assertEquals(posted.length, 5);
    assertEquals(posted[4]!.message.columns, posted[0]!.message.columns);
    assertEquals(readAndRelease(posted[4]!.message), Array.from({ length: 100 }, (_, i) => 400 + i));
  });

  test("a freed buffer carries no kinds of its earlier batch: numbers written over objects read as numbers", () => {
    const { producer, posted } = capture(64);
    for (let i = 0; i < 64; i++) producer.event({ step: i });
    const first = posted[0]!.message;
    assert(
      columnsOf(first).kinds.every((kind) => kind !== KIND_NUMBER),
      "the first batch holds only objects",
    );
    releaseColumns(columnsOf(first));
    for (let i = 0; i < 64; i++) producer.event(i); // written in the other buffer of the pool
    for (let i = 64; i < 128; i++) producer.event(i); // written in the first one again
    assertEquals(posted.length, 3);
    assertEquals(posted[2]!.message.columns, first.columns);
    assertEquals(readAndRelease(posted[2]!.message), Array.from({ length: 64 }, (_, i) => 64 + i));
  });

  test("with every buffer of a full pool unread, batches travel as copies and stay exact", () => {
    // A pool is bounded by memory (4 MiB): batches of 2^18 entries take 5 MiB each, so the pool keeps two.
    const size = 1 << 18;
    assert(columnsBytes(size) * 2 > 4 * 2 ** 20);
    const { producer, posted } = capture(size);
    for (let i = 0; i < size * 3; i++) producer.event(i);
    assertEquals(posted.map((p) => p.message.pooled), [true, false, false]);
    const copy = posted[1]!.message;
    assert(!(copy.columns instanceof SharedArrayBuffer));
    assertEquals(copy.stride, size);
    assertEquals(readAndRelease(copy).every((value, i) => value === size + i), true);
    assertEquals(readAndRelease(posted[2]!.message)[size - 1], size * 3 - 1);
  });

  test("with every buffer of a pool of thousands unread, a batch looks at one state word, not at the whole pool", () => {
    // Batches of 64 entries take 1,288 bytes: the pool holds 3,256 of them.
    const { producer, posted } = capture(64);
    const poolSize = Math.floor(4 * 2 ** 20 / columnsBytes(64));
    for (let i = 0; i < (poolSize + 10) * 64; i++) producer.event(i);
    // Every buffer but the one being written is posted.
    assertEquals(posted.filter((p) => p.message.pooled).length, poolSize - 1);
    const load = Atomics.load;
    let stateLoads = 0;
    Atomics.load = ((array: Int32Array, index: number) => {
      if (array.length === 1) stateLoads++;
      return load(array, index);
    }) as typeof Atomics.load;
    try {
      for (let i = 0; i < 100 * 64; i++) producer.event(i);
    } finally {
      Atomics.load = load;
    }
    assert(posted.slice(-100).every((p) => !p.message.pooled), "the pool is still all unread");
    assert(stateLoads <= 100, `${stateLoads} state words read for 100 batches`);
    // The sidecar frees buffers in the order they were posted: the first one is taken again.
    readAndRelease(posted[0]!.message);
    for (let i = 0; i < 64; i++) producer.event(-i);
    assertEquals(posted.at(-1)!.message.pooled, true);
    assertEquals(readAndRelease(posted.at(-1)!.message), Array.from({ length: 64 }, (_, i) => -i));
  });

  test("a batch the channel refused hands its buffer back with its kinds cleared", () => {
    // Batches of 2^18 entries: a pool of two buffers.
    const size = 1 << 18;
    const posted: BatchMessage[] = [];
    let refuse = true;
    const clock = new Int32Array(new SharedArrayBuffer(8));
    clock[1] = 1;
    const producer = new Producer(
      { id: 0, name: "main", slot: createSlot(), clock },
      (message) => {
        if (message.kind !== "batch") return;
        if (refuse) {
          refuse = false;
          throw new Error("the channel is closed");
        }
        posted.push(message);
      },
      { batchSize: size, maxQueued: 1e9, overflow: "drop", maxEventBytes: 1 << 20 },
    );
    for (let i = 0; i < size; i++) producer.event({ step: i });
    for (let i = 0; i < size; i++) producer.event(i);
    assertEquals(posted.length, 1);
    readAndRelease(posted[0]!);
    // The refused batch's buffer is free again: this batch goes in it, and its numbers read as numbers.
    for (let i = 0; i < size; i++) producer.event(size + i);
    assertEquals(posted.length, 2);
    assertEquals(posted[1]!.pooled, true);
    const values = readAndRelease(posted[1]!);
    assertEquals(values[0], size);
    assertEquals(values.every((value, i) => value === size + i), true);
  });
});

const RETAIN_SINK = new URL("./fixtures/retain_sink.ts", import.meta.url);

interface MixedRun {
  readonly events: number;
  readonly batchSize: number;
  readonly maxQueued?: number;
  readonly overflow?: "drop" | "block";
  readonly msPerBatch?: number;
  /** Every this many events, wait for the next turn so the end-of-turn post sends a partial batch. */
  readonly turnEvery?: number;
}

/**
 * Sends numbers, flat objects, histogram values and logs through a real sidecar whose sink keeps every batch and
 * reads them only at close; returns what it found and the stop report.
 */
async function runMixed(run: MixedRun): Promise<{ result: Retained; report: StopReport }> {
  const path = join(tempDir(), "retained.json");
  const telemetry = await startTelemetry({
    sinks: [{ kind: "custom", module: RETAIN_SINK, options: { path, msPerBatch: run.msPerBatch ?? 0 } }],
    batchSize: run.batchSize,
    maxQueued: run.maxQueued ?? 1_000_000,
    overflow: run.overflow ?? "block",
    metricsInterval: 60_000,
  });
  const histogram = telemetry.histogram("h");
  for (let i = 0; i < run.events; i++) {
    if (i % 3 === 1) telemetry.event({ step: i, half: i / 2, tag: `t${i}`, even: i % 2 === 0 });
    else telemetry.event(i);
    if (i % 5 === 0) histogram.record(i);
    if (i % 97 === 0) telemetry.log("info", "step", { i });
    if (run.turnEvery !== undefined && i % run.turnEvery === run.turnEvery - 1) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  const report = await telemetry.stop();
  const result = JSON.parse(readFileSync(path, "utf8")) as Retained;
  return { result, report };
}

function assertMixed(run: MixedRun, result: Retained, report: StopReport): void {
  assertEquals(result.errors, []);
  assertEquals(result.events, run.events);
  const samples = Math.ceil(run.events / 5);
  let sum = 0;
  for (let i = 0; i < run.events; i += 5) sum += i;
  assertEquals(result.histograms.h, { count: samples, sum });
  assertEquals(result.records, Math.ceil(run.events / 97));
  assertEquals(report.dropped, 0);
  assertEquals(report.handled, report.sent);
}

describe("batch columns through the sidecar", () => {
  for (const batchSize of [1, 2, 63, 64, 65, 8192]) {
    test(`a sink keeping every batch reads the right values and times at close (batchSize ${batchSize})`, async () => {
      const run = { events: 20_000, batchSize, turnEvery: 1_000 };
      const { result, report } = await runMixed(run);
      assertMixed(run, result, report);
    });
  }

  test("with the pool exhausted by a slow sink, copied and pooled batches stay exact and in order", async () => {
    // Batches of 2^16 entries take 1.25 MiB: the pool keeps three, and a sink taking 20 ms per batch falls behind.
    const run = { events: 1 << 20, batchSize: 1 << 16, msPerBatch: 20 };
    const { result, report } = await runMixed(run);
    assertMixed(run, result, report);
  });

  test("with a small batch size and a slow sink, a pool of thousands of buffers is written again exactly", async () => {
    const run = { events: 300_000, batchSize: 64, msPerBatch: 0.2, turnEvery: 50_000 };
    const { result, report } = await runMixed(run);
    assertMixed(run, result, report);
  });

  test("two compute workers and the main thread fill their pools at once: each producer's events exact and in order", async () => {
    const path = join(tempDir(), "retained.json");
    const telemetry = await startTelemetry({
      sinks: [{ kind: "custom", module: RETAIN_SINK, options: { path, msPerBatch: 0.2 } }],
      batchSize: 64,
      maxQueued: 1_000_000,
      overflow: "block",
    });
    const workers = [new Worker(PRODUCER_WORKER), new Worker(PRODUCER_WORKER)];
    try {
      const done = workers.map((worker, i) =>
        new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
          const port = telemetry.connect(`worker-${i}`);
          worker.postMessage({ port, count: 250_000, then: "flush" }, [port as never]);
        })
      );
      for (let i = 0; i < 250_000; i++) telemetry.event(i);
      await Promise.all(done);
      const report = await telemetry.stop();
      const result = JSON.parse(readFileSync(path, "utf8")) as Retained;
      assertEquals(result.errors, []);
      assertEquals(result.events, 750_000);
      assertEquals(report.handled, 750_000);
      assertEquals(report.dropped, 0);
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
  });
});
