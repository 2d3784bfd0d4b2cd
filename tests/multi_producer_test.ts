import { describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { attachTelemetry, startTelemetry } from "../mod.ts";
import { COLLECT, collectArray } from "./_helpers.ts";
import type { Then } from "./fixtures/producer_worker.ts";

const COLLECT_SINK = new URL("./fixtures/collect_sink.ts", import.meta.url);
const PRODUCER_WORKER = new URL("./fixtures/producer_worker.ts", import.meta.url);

/** Starts a compute worker that sends `count` events through `port`; resolves with the worker once it said done. */
function produce(port: MessagePort, count: number, then: Then = "nothing"): Promise<Worker> {
  const worker = new Worker(PRODUCER_WORKER);
  return new Promise((resolve, reject) => {
    worker.once("message", () => resolve(worker));
    worker.once("error", reject);
    worker.postMessage({ port, count, then }, [port as never]);
  });
}

describe("compute workers through connect()", () => {
  test("4 workers x 10,000 events, stop() right after they report done: all handled in order (20 runs)", async () => {
    const workers: Worker[] = [];
    for (const worker of await Promise.all([0, 1, 2, 3].map(() => new Worker(PRODUCER_WORKER)))) {
      workers.push(worker);
    }
    try {
      for (let run = 0; run < 20; run++) {
        const shared = collectArray();
        const telemetry = await startTelemetry({
          sinks: [{ kind: "custom", module: COLLECT_SINK, options: { shared } }],
        });
        await Promise.all(workers.map((worker, i) =>
          new Promise<void>((resolve) => {
            worker.once("message", () => resolve());
            const port = telemetry.connect(`worker-${i}`);
            worker.postMessage({ port, count: 10_000 }, [port as never]);
          })
        ));
        const report = await telemetry.stop();
        assertEquals(Atomics.load(shared, COLLECT.count), 40_000, `run ${run}`);
        assertEquals(Atomics.load(shared, COLLECT.orderErrors), 0, `run ${run}`);
        for (let id = 1; id <= 4; id++) {
          assertEquals(Atomics.load(shared, COLLECT.firstProducer + id), 10_000);
        }
        assertEquals(report.handled, 40_000);
        assertEquals(report.sent, 40_000);
        assertEquals(report.producers.map((p) => p.name), [
          "main",
          "worker-0",
          "worker-1",
          "worker-2",
          "worker-3",
        ]);
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });

  test("events from the main thread and a worker interleaved: all 102 handled, each producer in order", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({
      sinks: [{ kind: "custom", module: COLLECT_SINK, options: { shared } }],
    });
    telemetry.event(0);
    const worker = await produce(telemetry.connect(), 100);
    telemetry.event(1);
    const report = await telemetry.stop();
    await worker.terminate();
    assertEquals(report.handled, 102);
    assertEquals(Atomics.load(shared, COLLECT.firstProducer + 0), 2);
    assertEquals(Atomics.load(shared, COLLECT.firstProducer + 1), 100);
    assertEquals(Atomics.load(shared, COLLECT.orderErrors), 0);
  });

  test("a producer that closes after K events yields exactly K handled events", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({
      sinks: [{ kind: "custom", module: COLLECT_SINK, options: { shared } }],
    });
    const worker = await produce(telemetry.connect(), 777, "close");
    const report = await telemetry.stop();
    await worker.terminate();
    assertEquals(Atomics.load(shared, COLLECT.firstProducer + 1), 777);
    assertEquals(report.producers[1]?.handled, 777);
  });

  test("a worker that closes the port itself after K events yields exactly K handled events", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({
      sinks: [{ kind: "custom", module: COLLECT_SINK, options: { shared } }],
    });
    const worker = await produce(telemetry.connect(), 555, "port-close");
    const report = await telemetry.stop({ timeout: 5_000 });
    await worker.terminate();
    assertEquals(Atomics.load(shared, COLLECT.firstProducer + 1), 555);
    assertEquals(report.confirmed, true);
  });

  test("a worker that flushes, reports done and is terminated: all its events are handled", async () => {
    const shared = collectArray();
    const telemetry = await startTelemetry({
      sinks: [{ kind: "custom", module: COLLECT_SINK, options: { shared } }],
    });
    const worker = await produce(telemetry.connect(), 500, "flush");
    await worker.terminate();
    const report = await telemetry.stop();
    assertEquals(report.handled, 500);
    assertEquals(report.confirmed, true);
  });

  test("a worker terminated with events still in its buffer: stop() resolves by its timeout and counts them dropped", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    const worker = await produce(telemetry.connect(), 300, "block");
    await worker.terminate();
    const started = performance.now();
    const report = await telemetry.stop({ timeout: 500 });
    // The sidecar waits for the lost batch until the 500 ms timeout; 3 s leaves room for a loaded machine.
    assert(performance.now() - started < 3_000);
    assertEquals(report.confirmed, false);
    assertEquals(report.producers[1], {
      id: 1,
      name: "producer-1",
      sent: 300,
      handled: 0,
      dropped: 300,
      truncated: 0,
      invalid: 0,
    });
    assertEquals(report.sent, report.handled + report.dropped);
  });

  test("a connected port that is never attached does not delay stop()", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    telemetry.connect("unused");
    const report = await telemetry.stop({ timeout: 5_000 });
    assertEquals(report.confirmed, true);
    assertEquals(report.producers.length, 2);
  });

  test("attachTelemetry() on a port that is not from connect() throws a clear error", () => {
    const { port1, port2 } = new MessageChannel();
    assertThrows(() => attachTelemetry(port1), Error, "needs a port from telemetry.connect()");
    port1.close();
    port2.close();
  });

  test("connect() after stop() throws", async () => {
    const telemetry = await startTelemetry({ sinks: [] });
    await telemetry.stop();
    assertThrows(() => telemetry.connect(), Error, "call connect() before stop()");
  });
});
