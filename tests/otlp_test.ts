// The OTLP sink against a receiver on loopback: delivery, batching, retries, the queue bound, the close deadline
// and secrets kept out of messages.
import { after, before, describe, test } from "node:test";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import { startTelemetry } from "../mod.ts";
import { resolveOptions } from "../src/producer/options.ts";
import { type OtlpSink, otlpSink, parseRetryAfter } from "../src/sinks/otlp.ts";
import type { LogRecord, MetricsSnapshot, SpanRecord, TelemetryRecord } from "../src/sinks/sink.ts";

const SECRET = "Bearer s3cr3t-t0ken-5f2a";
const PRODUCER = { id: 0, name: "main" };
const T0 = 1_700_000_000_000;

function log(i: number): LogRecord {
  return { type: "log", producer: PRODUCER, time: T0 + i, level: "info", message: `log ${i}`, fields: { i } };
}

function span(i: number): SpanRecord {
  return {
    type: "span",
    producer: PRODUCER,
    name: `span ${i}`,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: i.toString(16).padStart(16, "0"),
    startTime: T0 + i,
    endTime: T0 + i + 1.5,
    attributes: { i },
    status: "unset",
  };
}

function snapshot(value: number, final = false): MetricsSnapshot {
  return {
    startTime: T0,
    time: T0 + value,
    final,
    series: [
      { kind: "counter", name: "rows", unit: "", description: "", labels: { stage: "fit" }, value },
      { kind: "gauge", name: "loss", unit: "", description: "", labels: {}, value: 1 / value },
    ],
  };
}

interface Received {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  readonly at: number;
  /** The status it was answered with. */
  status: number;
}

type Answer = (request: Received, res: ServerResponse) => void;

/** An OTLP receiver on a random loopback port that records every request and answers as `answer` says. */
async function receiver(answer: Answer = (_, res) => res.end("{}")) {
  const requests: Received[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const received: Received = {
        path: req.url ?? "",
        headers: req.headers,
        body,
        at: performance.now(),
        status: 0,
      };
      requests.push(received);
      res.on("finish", () => {
        inFlight--;
        received.status = res.statusCode;
      });
      answer(received, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    /** Requests to one path that were answered 2xx, their bodies parsed. */
    accepted(path: string): unknown[] {
      return requests.filter((r) => r.path === path && r.status >= 200 && r.status < 300).map((r) =>
        JSON.parse(r.body)
      );
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port with nothing listening: one a server had a moment ago. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

// deno-lint-ignore no-explicit-any
type Json = any;

function logMessages(bodies: Json[]): string[] {
  return bodies.flatMap((b) =>
    b.resourceLogs.flatMap((r: Json) =>
      r.scopeLogs.flatMap((s: Json) => s.logRecords.map((l: Json) => l.body.stringValue))
    )
  );
}

function spanNames(bodies: Json[]): string[] {
  return bodies.flatMap((b) =>
    b.resourceSpans.flatMap((r: Json) => r.scopeSpans.flatMap((s: Json) => s.spans.map((x: Json) => x.name)))
  );
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Closes the sink, returning its error message or `undefined` when it closed cleanly, and how long it took. */
async function closeSink(sink: OtlpSink): Promise<{ error?: string; ms: number }> {
  const started = performance.now();
  try {
    await sink.close();
    return { ms: performance.now() - started };
  } catch (error) {
    return { error: (error as Error).message, ms: performance.now() - started };
  }
}

describe("OTLP sink", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  before(() => {
    process.on("unhandledRejection", onUnhandled);
  });
  after(() => {
    process.off("unhandledRejection", onUnhandled);
  });

  test("every log, span and metric point arrives once, as JSON, in batches of at most maxBatch", async () => {
    // Each answer waits a little, so requests overlap and the concurrency bound is exercised.
    const backend = await receiver((_, res) => setTimeout(() => res.end(), 5));
    const sink = otlpSink({
      endpoint: backend.url,
      headers: { Authorization: SECRET },
      resource: { "service.name": "fit-test" },
      maxBatch: 100,
      concurrency: 2,
    });
    const records: TelemetryRecord[] = [];
    for (const i of range(1000)) records.push(log(i));
    for (const i of range(250)) records.push(span(i));
    records.push({ type: "progress", producer: PRODUCER, time: T0, label: "fit", done: 1, total: 2 });
    for (let i = 0; i < records.length; i += 97) sink.records(records.slice(i, i + 97));
    sink.metrics(snapshot(10));
    await sink.flush();
    sink.metrics(snapshot(20, true));
    const { error } = await closeSink(sink);
    await backend.close();

    assertEquals(error, undefined);
    assertEquals(logMessages(backend.accepted("/v1/logs")).sort(), range(1000).map((i) => `log ${i}`).sort());
    assertEquals(spanNames(backend.accepted("/v1/traces")).sort(), range(250).map((i) => `span ${i}`).sort());
    const metrics = backend.accepted("/v1/metrics") as Json[];
    assertEquals(metrics.length, 2);
    const rows = metrics.map((m) =>
      m.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asDouble
    );
    assertEquals(rows, [10, 20]);
    for (const request of backend.requests) {
      assertEquals(request.headers["content-type"], "application/json");
      assertEquals(request.headers["authorization"], SECRET);
      const body = JSON.parse(request.body);
      const resource = (body.resourceLogs ?? body.resourceSpans ?? body.resourceMetrics)[0].resource;
      assertEquals(resource.attributes, [{ key: "service.name", value: { stringValue: "fit-test" } }]);
    }
    for (const body of [...backend.accepted("/v1/logs"), ...backend.accepted("/v1/traces")] as Json[]) {
      const scope = (body.resourceLogs ?? body.resourceSpans)[0];
      const items = scope.scopeLogs?.[0].logRecords ?? scope.scopeSpans[0].spans;
      assert(items.length <= 100, `a request held ${items.length} items`);
    }
    assert(backend.maxInFlight <= 2, `${backend.maxInFlight} requests in flight`);
    assertEquals(sink.stats.logs, { exported: 1000, dropped: 0, failed: 0, abandoned: 0 });
    assertEquals(sink.stats.spans, { exported: 250, dropped: 0, failed: 0, abandoned: 0 });
    assertEquals(sink.stats.metrics.exported, 2);
  });

  test("a snapshot not yet sent is replaced by a newer one, not counted as lost", async () => {
    const backend = await receiver((_, res) => setTimeout(() => res.end(), 20));
    const sink = otlpSink({ endpoint: backend.url });
    sink.metrics(snapshot(1)); // sent at once
    sink.metrics(snapshot(2)); // waits for the first: one metrics request at a time
    sink.metrics(snapshot(3)); // replaces it
    const { error } = await closeSink(sink);
    await backend.close();
    assertEquals(error, undefined);
    const rows = (backend.accepted("/v1/metrics") as Json[]).map((m) =>
      m.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asDouble
    );
    assertEquals(rows, [1, 3]);
    assertEquals(sink.stats.metrics, { exported: 2, dropped: 0, failed: 0, abandoned: 0, superseded: 1 });
  });

  test("with the backend down, the queue stays at its cap, drops are exact, and close() keeps its deadline", async () => {
    const endpoint = await closedPort();
    const maxQueue = 1000;
    // Retries outlast the deadline, so what is held at close is abandoned, not failed: the counts are exact.
    const sink = otlpSink({
      endpoint,
      maxQueue,
      retries: 100,
      retryDelay: 20,
      maxRetryDelay: 50,
      closeTimeout: 300,
    });
    for (let i = 0; i < 100_000; i += 1000) sink.records(range(1000).map((k) => log(i + k)));
    assertEquals(sink.stats.held, maxQueue);
    assertEquals(sink.stats.logs.dropped, 100_000 - maxQueue);
    await new Promise((resolve) => setTimeout(resolve, 100)); // failed attempts and retries meanwhile
    assertEquals(sink.stats.held, maxQueue);
    sink.records([log(100_000)]);
    assertEquals(sink.stats.logs.dropped, 100_001 - maxQueue);

    const { error, ms } = await closeSink(sink);
    // 300 ms deadline; 700 ms more covers a loaded machine without hiding a wait on the network.
    assert(ms < 1000, `close() took ${ms.toFixed(0)} ms`);
    assertEquals(
      error,
      `OTLP export to ${endpoint}/ lost 100001 logs: 99001 logs dropped with the queue full (maxQueue 1000); ` +
        `1000 logs not sent by the close deadline (300 ms). ` +
        `Check that the receiver is reachable and accepts the data, or raise maxQueue and closeTimeout`,
    );
    assertEquals(sink.stats, {
      held: 0,
      logs: { exported: 0, dropped: 99_001, failed: 0, abandoned: 1000 },
      spans: { exported: 0, dropped: 0, failed: 0, abandoned: 0 },
      metrics: { exported: 0, dropped: 0, failed: 0, abandoned: 0, superseded: 0 },
    });
  });

  test("requests answered 503 are retried and each record is accepted exactly once", async () => {
    let refusals = 2;
    const backend = await receiver((_, res) => {
      if (refusals-- > 0) {
        res.writeHead(503, { "retry-after": "0" }).end();
      } else {
        res.end();
      }
    });
    const sink = otlpSink({ endpoint: backend.url, retryDelay: 10 });
    sink.records(range(10).map(log));
    const { error } = await closeSink(sink);
    await backend.close();
    assertEquals(error, undefined);
    assertEquals(backend.requests.map((r) => r.status), [503, 503, 200]);
    assertEquals(logMessages(backend.accepted("/v1/logs")), range(10).map((i) => `log ${i}`));
    assertEquals(sink.stats.logs, { exported: 10, dropped: 0, failed: 0, abandoned: 0 });
  });

  test("a 429 is retried no sooner than its Retry-After says", async () => {
    let first = true;
    const backend = await receiver((_, res) => {
      if (first) {
        first = false;
        res.writeHead(429, { "retry-after": "1" }).end();
      } else {
        res.end();
      }
    });
    // The backoff alone would retry after 5-10 ms.
    const sink = otlpSink({ endpoint: backend.url, retryDelay: 10 });
    sink.records([span(1)]);
    const { error } = await closeSink(sink);
    await backend.close();
    assertEquals(error, undefined);
    assertEquals(backend.requests.length, 2);
    const waited = backend.requests[1]!.at - backend.requests[0]!.at;
    // Timers may fire a millisecond early on some runtimes.
    assert(waited >= 990, `retried after ${waited.toFixed(0)} ms`);
    assertEquals(sink.stats.spans.exported, 1);
  });

  test("Retry-After is read as seconds or as an HTTP date", () => {
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    assertEquals(parseRetryAfter("3", now), 3000);
    assertEquals(parseRetryAfter(" 0 ", now), 0);
    assertEquals(parseRetryAfter("Wed, 21 Oct 2015 07:28:02 GMT", now), 2000);
    assertEquals(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);
    assertEquals(parseRetryAfter("soon", now), undefined);
    assertEquals(parseRetryAfter(null, now), undefined);
  });

  test("a refusal that is not retried, a partial success and a request with no answer are counted as failed", async () => {
    const backend = await receiver((request, res) => {
      if (request.path === "/v1/logs") {
        res.writeHead(400).end('{"code":3,"message":"bad"}');
      } else if (request.path === "/v1/traces") {
        res.end(JSON.stringify({ partialSuccess: { rejectedSpans: "2", errorMessage: "spans too old" } }));
      }
      // Metrics get no answer at all.
    });
    const sink = otlpSink({ endpoint: backend.url, retries: 0, timeout: 100 });
    sink.records([log(1), log(2), span(1), span(2), span(3)]);
    sink.metrics(snapshot(5));
    const { error } = await closeSink(sink);
    await backend.close();
    assertEquals(backend.requests.length, 3);
    assertEquals(sink.stats.logs, { exported: 0, dropped: 0, failed: 2, abandoned: 0 });
    assertEquals(sink.stats.spans, { exported: 1, dropped: 0, failed: 2, abandoned: 0 });
    assertEquals(sink.stats.metrics.failed, 1);
    assertStringIncludes(error!, `lost 2 logs, 2 spans, 1 metric exports: `);
    assertStringIncludes(error!, "2 logs failed (last error: HTTP 400 Bad Request)");
    assertStringIncludes(error!, "2 spans failed (last error: the receiver rejected 2: spans too old)");
    assertStringIncludes(error!, "1 metric exports failed (last error: no answer within 100 ms, 1 attempt)");
  });

  test("a record that cannot be encoded fails alone, and records() does not throw", async () => {
    const backend = await receiver();
    const sink = otlpSink({ endpoint: backend.url, maxBatch: 1 });
    const fields = {
      get bad(): never {
        throw new Error("boom");
      },
    };
    sink.records([{ ...log(1), fields }, log(2)]);
    const { error } = await closeSink(sink);
    await backend.close();
    assertEquals(logMessages(backend.accepted("/v1/logs")), ["log 2"]);
    assertStringIncludes(error!, "lost 1 logs: 1 logs failed (last error: cannot encode: boom)");
  });

  test("header values appear in no error message, even when the receiver echoes them", async () => {
    const backend = await receiver((request, res) => {
      const echo = String(request.headers["x-api-key"]);
      if (request.path === "/v1/logs") res.writeHead(401, `Unauthorized key ${echo}`).end();
      else {res.end(
          JSON.stringify({ partialSuccess: { rejectedSpans: 1, errorMessage: `key ${echo} rejected` } }),
        );}
    });
    const sink = otlpSink({ endpoint: backend.url, headers: { "X-Api-Key": SECRET }, retries: 0 });
    sink.records([log(1), span(1)]);
    const { error } = await closeSink(sink);
    await backend.close();
    assertEquals(backend.requests.length, 2);
    // Deno's fetch gives the standard reason phrase, Node's and Bun's the one sent.
    assertMatch(error!, /1 logs failed \(last error: HTTP 401 Unauthorized( key \[redacted\])?\)/);
    assertStringIncludes(error!, "key [redacted] rejected");
    assert(!error!.includes(SECRET), error);

    // Nothing listening: the network layer's own message.
    const down = otlpSink({ endpoint: await closedPort(), headers: { "X-Api-Key": SECRET }, retries: 0 });
    down.records([log(1)]);
    const closed = await closeSink(down);
    assertMatch(closed.error!, /^OTLP export to .* lost 1 logs: 1 logs failed \(last error: .+, 1 attempt\)/);
    assert(!closed.error!.includes(SECRET), closed.error);

    // Invalid options name the header, never its value.
    for (
      const headers of [{ "X-Api-Key": `${SECRET}\r\nX-Other: 1` }, { "X-Api-Key": 42 }, { [SECRET]: "x" }]
    ) {
      const message = (() => {
        try {
          otlpSink({ endpoint: "http://127.0.0.1:4318", headers: headers as Record<string, string> });
        } catch (error) {
          return (error as Error).message;
        }
      })();
      assert(message !== undefined && message.startsWith("Invalid option otlp.headers"), message);
      if (!(SECRET in headers)) assert(!message.includes(SECRET), message);
    }
  });

  test("flush() waits for what is held, at most closeTimeout, and close() after it reports nothing lost", async () => {
    let release: (() => void) | undefined;
    const backend = await receiver((_, res) => {
      release = () => res.end();
    });
    const sink = otlpSink({ endpoint: backend.url, closeTimeout: 100 });
    sink.records([log(1)]);
    const started = performance.now();
    await sink.flush();
    const waited = performance.now() - started;
    assert(waited >= 90 && waited < 1000, `flush() waited ${waited.toFixed(0)} ms`);
    assertEquals(sink.stats.held, 1);
    release!();
    await sink.flush();
    assertEquals(sink.stats.held, 0);
    const { error } = await closeSink(sink);
    await backend.close();
    assertEquals(error, undefined);
  });

  test("no rejection was left unhandled", async () => {
    // Rejections are reported after the turn they happen in.
    await new Promise((resolve) => setTimeout(resolve, 10));
    assertEquals(unhandled, []);
  });
});

describe("OTLP sink options", () => {
  const defaultWorker = new URL("file:///worker.ts");

  test("kind otlp is checked on the main thread and travels with its defaults", () => {
    const { sinks } = resolveOptions(
      {
        sinks: [{
          kind: "otlp",
          endpoint: new URL("http://localhost:4318"),
          headers: { Authorization: "x" },
        }],
      },
      defaultWorker,
    );
    assertEquals(sinks, [{
      kind: "otlp",
      options: {
        endpoint: "http://localhost:4318/",
        headers: { Authorization: "x" },
        resource: { "service.name": "unknown_service" },
        timeout: 10_000,
        maxQueue: 100_000,
        maxBatch: 512,
        concurrency: 2,
        retries: 5,
        retryDelay: 500,
        maxRetryDelay: 5_000,
        closeTimeout: 5_000,
      },
    }]);
    structuredClone(sinks);
  });

  test("an invalid option is a TypeError naming it", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ kind: "otlp" }, /^Invalid option sinks\[0\]\.endpoint: expected an absolute http\(s\) URL/],
      [
        { kind: "otlp", endpoint: "ftp://host" },
        /^Invalid option sinks\[0\]\.endpoint: expected an http: or https:/,
      ],
      [
        { kind: "otlp", endpoint: "http://u:p@host" },
        /^Invalid option sinks\[0\]\.endpoint: put credentials in headers/,
      ],
      [
        { kind: "otlp", endpoint: "http://h", timeout: 0 },
        /^Invalid option sinks\[0\]\.timeout: expected milliseconds/,
      ],
      [
        { kind: "otlp", endpoint: "http://h", maxQueue: 1.5 },
        /^Invalid option sinks\[0\]\.maxQueue: expected an int/,
      ],
      [
        { kind: "otlp", endpoint: "http://h", resource: { a: {} } },
        /^Invalid option sinks\[0\]\.resource\["a"\]/,
      ],
      [
        { kind: "otlp", endpoint: "http://h", header: {} },
        /^Unknown option sinks\[0\]\.header: the OTLP sink's/,
      ],
      [
        { kind: "otlpx" },
        /is not a sink kind; use "console", "ndjson", "progress", "report", "pushgateway", "otlp" or "custom"$/,
      ],
    ];
    for (const [sink, message] of cases) {
      let error: unknown;
      try {
        resolveOptions({ sinks: [sink as never] }, defaultWorker);
      } catch (e) {
        error = e;
      }
      assert(error instanceof TypeError, `${JSON.stringify(sink)} throws a TypeError`);
      assertMatch(error.message, message);
    }
  });

  test("kind otlp builds the sink inside the sidecar, which stops cleanly", async () => {
    const backend = await receiver();
    const telemetry = await startTelemetry({
      sinks: [{ kind: "otlp", endpoint: backend.url, headers: { Authorization: SECRET } }],
    });
    const report = await telemetry.stop();
    await backend.close();
    assertEquals(report.errors, 0);
    assertEquals(report.sinks, [{ name: "otlp", errors: 0 }]);
  });

  test("the factory checks its options too", () => {
    assertThrows(() => otlpSink({ endpoint: "nope" }), TypeError, "Invalid option otlp.endpoint");
  });
});
