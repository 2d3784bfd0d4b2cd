import { after, before, describe, test } from "node:test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import { startTelemetry } from "../mod.ts";
import { resolveOptions } from "../src/producer/options.ts";
import {
  encodePrometheus,
  escapeHelp,
  escapeLabelValue,
  formatNumber,
  labelName,
  metricName,
} from "../src/sinks/_prometheus.ts";
import {
  groupUrl,
  PushgatewayError,
  pushgatewaySink,
  type PushgatewaySinkOptions,
} from "../src/sinks/pushgateway.ts";
import type {
  CounterSeries,
  GaugeSeries,
  HistogramSeries,
  MetricSeries,
  MetricsSnapshot,
} from "../src/sinks/sink.ts";
import {
  freePort,
  missing,
  parseExposition,
  PROMETHEUS_BIN,
  PUSHGATEWAY_BIN,
  type Service,
  startPrometheus,
  startPushgateway,
} from "./_services.ts";

const base = { labels: {}, unit: "", description: "" };
const counter = (name: string, value: number, more: Partial<CounterSeries> = {}): CounterSeries => ({
  ...base,
  kind: "counter",
  name,
  value,
  ...more,
});
const gauge = (name: string, value: number, more: Partial<GaugeSeries> = {}): GaugeSeries => ({
  ...base,
  kind: "gauge",
  name,
  value,
  ...more,
});
const histogram = (
  name: string,
  bounds: number[],
  counts: number[],
  sum: number,
  more: Partial<HistogramSeries> = {},
): HistogramSeries => {
  const count = counts.reduce((a, b) => a + b, 0);
  return {
    ...base,
    kind: "histogram",
    name,
    bounds,
    counts,
    sum,
    count,
    min: NaN,
    max: NaN,
    p50: NaN,
    p90: NaN,
    p99: NaN,
    ...more,
  };
};
const snapshot = (series: MetricSeries[], final = false): MetricsSnapshot => ({
  startTime: 1_700_000_000_000,
  time: 1_700_000_001_000,
  final,
  series,
});
const lines = (text: string) => text.split("\n").filter((line) => line !== "");

describe("Prometheus text encoding", () => {
  test("each family has its HELP and TYPE lines; counters get _total once", () => {
    const text = encodePrometheus([
      counter("rows", 3, { description: "Rows read" }),
      counter("bytes_total", 10),
      gauge("loss", 0.25, { description: "Loss \\ per\nstep", unit: "1" }),
      counter("rows", 4, { labels: { stage: "b" } }),
    ]);
    assertEquals(lines(text), [
      "# HELP rows_total Rows read",
      "# TYPE rows_total counter",
      "rows_total 3",
      'rows_total{stage="b"} 4',
      "# TYPE bytes_total counter",
      "bytes_total 10",
      "# HELP loss Loss \\\\ per\\nstep (unit: 1)",
      "# TYPE loss gauge",
      "loss 0.25",
    ]);
  });

  test("metric and label names are made valid; names starting with __ are not used", () => {
    assertEquals(metricName("http.requests-count"), "http_requests_count");
    assertEquals(metricName("9lives"), "_9lives");
    assertEquals(metricName("ns:metric"), "ns:metric");
    assertEquals(metricName("größe"), "gr__e");
    assertEquals(metricName(""), "_");
    assertEquals(labelName("otel.metric.overflow"), "otel_metric_overflow");
    assertEquals(labelName("1st"), "_1st");
    assertEquals(labelName("__name__"), "_name__");
    assertEquals(labelName("a:b"), "a_b");
    assertEquals(labelName(""), "_");
    const text = encodePrometheus([
      gauge("g", 1, { labels: { "a.b": "1", "a-b": "2", __x: "3", "le": "4" } }),
    ]);
    // Names that meet are told apart by a number, in the order of the original names.
    assertEquals(lines(text)[1], 'g{_x="3",a_b="2",a_b_2="1",le="4"} 1');
  });

  test("label values escape backslash, double quote and newline; HELP escapes backslash and newline", () => {
    assertEquals(escapeLabelValue('C:\\dir "q"\nnext'), 'C:\\\\dir \\"q\\"\\nnext');
    assertEquals(escapeHelp('a\\b\n"c"'), 'a\\\\b\\n"c"');
    const text = encodePrometheus([gauge("g", 1, { labels: { path: 'a\\b"c"\nd' } })]);
    assertEquals(lines(text)[1], 'g{path="a\\\\b\\"c\\"\\nd"} 1');
  });

  test("NaN and infinities are written as Prometheus reads them, integers without exponent", () => {
    assertEquals(formatNumber(NaN), "NaN");
    assertEquals(formatNumber(Infinity), "+Inf");
    assertEquals(formatNumber(-Infinity), "-Inf");
    assertEquals(formatNumber(-0), "0");
    assertEquals(formatNumber(1e21), "1000000000000000000000");
    assertEquals(formatNumber(-(2 ** 70)), "-1180591620717411303424");
    assertEquals(formatNumber(123456789), "123456789");
    assertEquals(formatNumber(0.1), "0.1");
    assertEquals(formatNumber(1.5e-7), "1.5e-7");
    assertEquals(lines(encodePrometheus([gauge("g", NaN), gauge("h", -Infinity)])), [
      "# TYPE g gauge",
      "g NaN",
      "# TYPE h gauge",
      "h -Inf",
    ]);
  });

  test("histogram buckets are cumulative and end with +Inf, then _sum and _count", () => {
    const text = encodePrometheus([
      histogram("latency", [0.5, 1, 2.5], [2, 0, 3, 1], 9.75, { unit: "ms", labels: { op: "read" } }),
    ]);
    assertEquals(lines(text), [
      "# HELP latency Unit: ms",
      "# TYPE latency histogram",
      'latency_bucket{op="read",le="0.5"} 2',
      'latency_bucket{op="read",le="1"} 2',
      'latency_bucket{op="read",le="2.5"} 5',
      'latency_bucket{op="read",le="+Inf"} 6',
      'latency_sum{op="read"} 9.75',
      'latency_count{op="read"} 6',
    ]);
  });

  test("a histogram's own le label is renamed, since le holds the bucket bound", () => {
    const text = encodePrometheus([histogram("h", [], [1], 2, { labels: { le: "x" } })]);
    assertEquals(lines(text).slice(1), [
      'h_bucket{_le="x",le="+Inf"} 1',
      'h_sum{_le="x"} 2',
      'h_count{_le="x"} 1',
    ]);
  });

  test("series with the same final name and labels are merged: counters and histograms summed, last gauge wins", () => {
    const text = encodePrometheus([
      counter("jobs", 2, { labels: { "a.b": "1" } }),
      counter("jobs_total", 5, { labels: { a_b: "1" } }),
      gauge("temp", 1),
      gauge("temp", 7),
      histogram("h", [1, 2], [1, 1, 0], 2.5),
      histogram("h", [1, 2], [0, 2, 1], 8),
      // Other bounds: each bucket goes to the first bound at or above its own (1.5 -> 2, 3 -> +Inf).
      histogram("h", [1.5, 3], [1, 0, 1], 10),
    ]);
    assertEquals(lines(text), [
      "# TYPE jobs_total counter",
      'jobs_total{a_b="1"} 7',
      "# TYPE temp gauge",
      "temp 7",
      "# TYPE h histogram",
      'h_bucket{le="1"} 1',
      'h_bucket{le="2"} 5',
      'h_bucket{le="+Inf"} 7',
      "h_sum 20.5",
      "h_count 7",
    ]);
  });

  test("a name used by two kinds gets the later family's kind added, so the exposition stays valid", () => {
    const text = encodePrometheus([
      gauge("done_total", 1),
      counter("done", 2),
      histogram("wait", [], [1], 1),
      gauge("wait_sum", 3),
      gauge("wait", 4),
      counter("wait_count", 5),
      counter("done", 1),
    ]);
    assertEquals(lines(text).filter((line) => line.startsWith("# TYPE")), [
      "# TYPE done_total gauge",
      "# TYPE done_counter_total counter",
      "# TYPE wait histogram",
      "# TYPE wait_sum_gauge gauge",
      "# TYPE wait_gauge gauge",
      "# TYPE wait_count_total counter",
    ]);
    assertStringIncludes(text, "done_counter_total 3\n");
  });

  test("constant labels are added to every series; a series' own label wins; le only where it is free", () => {
    const text = encodePrometheus([
      gauge("g", 1, { labels: { run: "own", empty: "" } }),
      histogram("h", [], [1], 1),
    ], { run: "42", host: "a", le: "no" });
    assertEquals(lines(text), [
      "# TYPE g gauge",
      'g{host="a",le="no",run="own"} 1',
      "# TYPE h histogram",
      'h_bucket{host="a",run="42",le="+Inf"} 1',
      'h_sum{host="a",run="42"} 1',
      'h_count{host="a",run="42"} 1',
    ]);
  });

  test("no series, no text", () => {
    assertEquals(encodePrometheus([]), "");
  });
});

describe("Pushgateway group URL and options", () => {
  test("the group URL carries job and grouping, in base64 form for values with / or empty", () => {
    assertEquals(groupUrl("http://gw:9091/", "nightly etl", {}), "http://gw:9091/metrics/job/nightly%20etl");
    assertEquals(
      groupUrl("http://gw:9091/prefix", "a/b", { instance: "x/y", zone: "", shard: "3" }),
      "http://gw:9091/prefix/metrics/job@base64/YS9i/instance@base64/eC95/zone@base64/=/shard/3",
    );
    // base64url, not base64: "??>" is "Pz8-" where base64 would write "Pz8+".
    assertEquals(groupUrl("http://gw", "j", { p: "??>/" }), "http://gw/metrics/job/j/p@base64/Pz8-Lw==");
  });

  const url = new URL("file:///worker.ts");
  const resolve = (sink: Record<string, unknown>) => resolveOptions({ sinks: [sink as never] }, url).sinks[0];

  test("options get their defaults", () => {
    assertEquals(resolve({ kind: "pushgateway", url: "http://localhost:9091", job: "etl" }), {
      kind: "pushgateway",
      url: "http://localhost:9091/",
      job: "etl",
      grouping: {},
      labels: {},
      interval: 10_000,
      timeout: 5_000,
      retries: 3,
    });
  });

  test("invalid options are a TypeError naming the option", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ url: "ftp://x", job: "j" }, "sinks[0].url: expected an http(s) URL"],
      [{ url: "localhost:9091", job: "j" }, "sinks[0].url"],
      [{ url: "http://u:p@x", job: "j" }, "without credentials"],
      [{ url: "http://x" }, "sinks[0].job: expected a non-empty string"],
      [{ url: "http://x", job: "" }, "sinks[0].job"],
      [{ url: "http://x", job: "j", grouping: { "bad-name": "1" } }, 'sinks[0].grouping: "bad-name" is not'],
      [{ url: "http://x", job: "j", grouping: { job: "1" } }, "sinks[0].grouping.job"],
      [{ url: "http://x", job: "j", labels: { __x: "1" } }, "sinks[0].labels"],
      [{ url: "http://x", job: "j", labels: { a: 1 } }, "sinks[0].labels.a: expected a string"],
      [{ url: "http://x", job: "j", interval: 0 }, "sinks[0].interval"],
      [{ url: "http://x", job: "j", timeout: "1s" }, "sinks[0].timeout"],
      [{ url: "http://x", job: "j", retries: 11 }, "sinks[0].retries: expected an integer from 0 to 10"],
    ];
    for (const [sink, message] of cases) {
      assertThrows(() => resolve({ kind: "pushgateway", ...sink }), TypeError, message);
    }
    assertThrows(
      () => resolve({ kind: "nope" }),
      TypeError,
      '"console", "ndjson", "progress", "report", "pushgateway", "otlp" or "custom"',
    );
  });
});

/** Options for a sink in a test: a push every 50 ms (the tests wait for pushes), short timeouts. */
function options(
  url: string,
  job: string,
  more: Partial<PushgatewaySinkOptions> = {},
): PushgatewaySinkOptions {
  return { url, job, grouping: {}, labels: {}, interval: 50, timeout: 2_000, retries: 0, ...more };
}

/** Polls `check` every 20 ms until it returns a value, failing after `limitMs`. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  limitMs = 5_000,
) {
  const deadline = performance.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`Timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("Pushgateway sink against a local HTTP server", () => {
  let server: Server;
  let url = "";
  let answer: (request: IncomingMessage, response: ServerResponse, body: string) => void = () => {};
  const requests: Array<{ method: string; url: string; type: string; body: string }> = [];
  let open = 0;
  let mostOpen = 0;

  before(async () => {
    server = createServer((request, response) => {
      open++;
      mostOpen = Math.max(mostOpen, open);
      response.on("close", () => open--);
      let body = "";
      request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      request.on("end", () => {
        requests.push({
          method: request.method!,
          url: request.url!,
          type: request.headers["content-type"] ?? "",
          body,
        });
        answer(request, response, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const reset = (respond: typeof answer) => {
    requests.length = 0;
    mostOpen = 0;
    answer = respond;
  };
  const ok = (_: IncomingMessage, response: ServerResponse) => response.writeHead(200).end();

  test("metrics() returns at once; the push is a PUT of the text format, on the interval", async () => {
    reset(ok);
    const sink = pushgatewaySink(options(url, "etl", { grouping: { instance: "n/1" } }));
    const started = performance.now();
    sink.metrics!(snapshot([counter("rows", 5)]));
    // A push takes a round trip; metrics() only keeps the snapshot (50 ms leaves room for a pause of the engine).
    assert(performance.now() - started < 50, "metrics() does not wait for the push");
    await waitFor("the push", () => requests[0]);
    assertEquals(requests[0], {
      method: "PUT",
      url: "/metrics/job/etl/instance@base64/bi8x",
      type: "text/plain; version=0.0.4; charset=utf-8",
      body: "# TYPE rows_total counter\nrows_total 5\n",
    });
    await sink.close!(undefined as never);
    // Close pushes the latest snapshot once more, even when an interval's push already took it.
    assertEquals(requests.length, 2);
  });

  test("a snapshot already pushed is not pushed again on the interval", async () => {
    reset(ok);
    const sink = pushgatewaySink(options(url, "quiet", { interval: 20 }));
    sink.metrics!(snapshot([gauge("g", 1)]));
    await waitFor("the push", () => requests[0]);
    const count = requests.length;
    await new Promise((resolve) => setTimeout(resolve, 150)); // several intervals with nothing new
    assertEquals(requests.length, count);
    await sink.close!(undefined as never);
  });

  test("at most one push is in flight, however slow the gateway", async () => {
    reset((_, response) => setTimeout(() => response.writeHead(200).end(), 150));
    const sink = pushgatewaySink(options(url, "slow", { interval: 10 }));
    for (let i = 0; i < 5; i++) {
      sink.metrics!(snapshot([counter("n", i)]));
      await new Promise((resolve) => setTimeout(resolve, 60)); // several intervals per answer
    }
    await sink.close!(undefined as never);
    assertEquals(mostOpen, 1);
    assertEquals(requests.at(-1)!.body, "# TYPE n_total counter\nn_total 4\n");
  });

  test("a 4xx answer fails at once with its status and an excerpt of the body, control characters escaped", async () => {
    const body = "bad\u001b[31m line\n" + "x".repeat(500);
    reset((_, response) => response.writeHead(400).end(body));
    const sink = pushgatewaySink(options(url, "bad", { retries: 3, interval: 60_000 }));
    sink.metrics!(snapshot([gauge("g", 1)]));
    const error = await assertRejects(
      () => sink.close!(undefined as never) as Promise<void>,
      PushgatewayError,
    );
    assertEquals(error.status, 400);
    assertStringIncludes(error.message, "status 400");
    assertStringIncludes(error.message, "bad\\x1b[31m line\\nxxx");
    assert(error.body.length <= 210, `excerpt of ${error.body.length} characters`);
    // Not retried: the same push would be refused again.
    assertEquals(requests.length, 1);
  });

  test("a 5xx answer is retried with backoff, then reported with the number of attempts", async () => {
    reset((_, response) => response.writeHead(503).end("overloaded"));
    const sink = pushgatewaySink(options(url, "busy", { retries: 2, interval: 60_000 }));
    const started = performance.now();
    const error = await assertRejects(
      () => sink.close!(undefined as never) as Promise<void>,
      PushgatewayError,
    );
    const ms = performance.now() - started;
    assertEquals(error.status, 503);
    assertStringIncludes(error.message, "overloaded (3 attempts)");
    assertEquals(requests.length, 3);
    // Waits of 100 and 200 ms between the attempts.
    assert(ms >= 290 && ms < 2_000, `${ms.toFixed(0)} ms`);
  });

  test("a background push that fails is thrown once from the sink's next call", async () => {
    let calls = 0;
    reset((_, response) => response.writeHead(++calls === 1 ? 400 : 200).end(calls === 1 ? "refused" : ""));
    const sink = pushgatewaySink(options(url, "once"));
    sink.metrics!(snapshot([gauge("g", 1)]));
    // The failed push is retried on the next interval and then taken.
    await waitFor("a push after the refused one", () => requests[1]);
    const error = assertThrows(() => sink.metrics!(snapshot([gauge("g", 2)])), PushgatewayError, "refused");
    assertEquals(error.status, 400);
    sink.flush!();
    await sink.close!(undefined as never);
    assertEquals(requests.at(-1)!.body, "# TYPE g gauge\ng 2\n");
  });

  test("a gateway that does not answer is abandoned after the timeout, then retried a bounded number of times", async () => {
    reset(() => {}); // never answers
    const sink = pushgatewaySink(options(url, "mute", { timeout: 150, retries: 1 }));
    const started = performance.now();
    const error = await assertRejects(() => sink.close!(undefined as never) as Promise<void>, Error);
    const ms = performance.now() - started;
    assertStringIncludes(error.message, "no answer within 150 ms");
    assertStringIncludes(error.message, "(2 attempts)");
    // Two timeouts of 150 ms and a wait of 100 ms; 2 s covers a busy machine.
    assert(ms >= 390 && ms < 2_000, `${ms.toFixed(0)} ms`);
    server.closeAllConnections();
  });

  test("a closed port is retried a bounded number of times and close() ends in bounded time", async () => {
    const port = await freePort(); // free, so nothing listens there
    const sink = pushgatewaySink(
      options(`http://127.0.0.1:${port}`, "gone", { retries: 3, timeout: 1_000, interval: 60_000 }),
    );
    sink.metrics!(snapshot([gauge("g", 1)]));
    const started = performance.now();
    const error = await assertRejects(() => sink.close!(undefined as never) as Promise<void>, Error);
    const ms = performance.now() - started;
    assertStringIncludes(
      error.message,
      `Pushgateway at http://127.0.0.1:${port}/metrics/job/gone did not take`,
    );
    assertStringIncludes(error.message, "(4 attempts)");
    // Waits of 100, 200 and 400 ms between refused connections; 3 s covers a busy machine.
    assert(ms >= 690 && ms < 3_000, `${ms.toFixed(0)} ms`);
  });
});

describe("Pushgateway sink against a real Pushgateway", { skip: missing(PUSHGATEWAY_BIN) }, () => {
  let gateway: Service;

  before(async () => {
    gateway = await startPushgateway();
  });
  after(async () => {
    await gateway?.stop();
  });

  const scrape = async (job: string) => {
    const response = await fetch(`${gateway.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return parseExposition(await response.text()).filter((s) =>
      s.labels.job === job && !s.name.startsWith("push_")
    );
  };

  test("pushed values read back exactly, with histogram buckets and an awkward label value", async () => {
    const awkward = 'C:\\runs\\"best"\nsecond line';
    const sink = pushgatewaySink(
      options(gateway.url, "train", { grouping: { instance: "host/7" }, labels: { run: "r1" } }),
    );
    sink.metrics!(snapshot([
      counter("steps", 1200, { labels: { model: awkward } }),
      gauge("loss", 0.125, { description: "Training loss" }),
      gauge("lr", NaN),
      histogram("step_ms", [1, 5, 25], [3, 10, 2, 1], 140.5, { unit: "ms" }),
    ]));
    const read = await waitFor("the pushed metrics", async () => {
      const samples = await scrape("train");
      return samples.length > 0 ? samples : undefined;
    });
    const group = { instance: "host/7", job: "train", run: "r1" };
    const sorted = (samples: typeof read) =>
      samples.map((s) => JSON.stringify([s.name, Object.entries(s.labels).sort(), s.value])).sort();
    assertEquals(
      sorted(read),
      sorted([
        { name: "steps_total", labels: { ...group, model: awkward }, value: 1200 },
        { name: "loss", labels: group, value: 0.125 },
        { name: "lr", labels: group, value: NaN },
        { name: "step_ms_bucket", labels: { ...group, le: "1" }, value: 3 },
        { name: "step_ms_bucket", labels: { ...group, le: "5" }, value: 13 },
        { name: "step_ms_bucket", labels: { ...group, le: "25" }, value: 15 },
        { name: "step_ms_bucket", labels: { ...group, le: "+Inf" }, value: 16 },
        { name: "step_ms_sum", labels: group, value: 140.5 },
        { name: "step_ms_count", labels: group, value: 16 },
      ]),
    );
    await sink.close!(undefined as never);
  });

  test("the final push at close() replaces the group: it holds exactly the last snapshot", async () => {
    const sink = pushgatewaySink(options(gateway.url, "replace", { interval: 60_000 }));
    sink.metrics!(snapshot([gauge("early", 1), counter("done", 1)]));
    await sink.close!(undefined as never); // pushes early and done
    const second = pushgatewaySink(options(gateway.url, "replace", { interval: 60_000 }));
    second.metrics!(snapshot([counter("done", 9)], true));
    await second.close!(undefined as never);
    assertEquals((await scrape("replace")).map((s) => [s.name, s.value]), [["done_total", 9]]);
  });

  test("a push the gateway refuses (a TYPE another group pushed) is an error with status 400 and the reason", async () => {
    const other = await fetch(`${gateway.url}/metrics/job/other`, {
      method: "PUT",
      body: "# TYPE clash_total gauge\nclash_total 1\n",
    });
    assertEquals(other.status, 200, await other.text());
    const sink = pushgatewaySink(options(gateway.url, "clash", { interval: 60_000, retries: 3 }));
    sink.metrics!(snapshot([counter("clash", 2)]));
    const error = await assertRejects(
      () => sink.close!(undefined as never) as Promise<void>,
      PushgatewayError,
    );
    assertEquals(error.status, 400);
    assertStringIncludes(error.message, "clash_total");
    assertStringIncludes(error.message, "inconsistent with existing metrics");
  });

  test("startTelemetry with a pushgateway sink pushes the group at stop", async () => {
    const telemetry = await startTelemetry({
      sinks: [{ kind: "pushgateway", url: gateway.url, job: "wired", grouping: { instance: "main" } }],
    });
    telemetry.event(1);
    const report = await telemetry.stop();
    assertEquals(report.errors, 0, JSON.stringify(report.sinks));
    const response = await fetch(`${gateway.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const pushed = parseExposition(await response.text()).find((s) =>
      s.name === "push_time_seconds" && s.labels.job === "wired" && s.labels.instance === "main"
    );
    assert(pushed !== undefined && pushed.value > 0, "the group was pushed");
  });

  test(
    "Prometheus scraping the gateway (honor_labels) answers a query with a pushed value",
    // Prometheus hands new scrape targets over every 5 s (fixed in its discovery), so the first scrape comes
    // 5-6 s after start; the test's limit covers that on a busy machine.
    { skip: missing(PROMETHEUS_BIN), timeout: 20_000 },
    async () => {
      const sink = pushgatewaySink(options(gateway.url, "scraped", { interval: 60_000 }));
      sink.metrics!(snapshot([gauge("items_left", 42, { labels: { stage: "load" } })], true));
      await sink.close!(undefined as never);
      const prometheus = await startPrometheus(new URL(gateway.url).host);
      try {
        const query = encodeURIComponent('items_left{job="scraped",stage="load"}');
        // The first scrape after start comes within about 6 s (see above).
        const result = await waitFor("the query result", async () => {
          const response = await fetch(`${prometheus.url}/api/v1/query?query=${query}`, {
            signal: AbortSignal.timeout(2_000),
          });
          const body = await response.json() as { data?: { result?: Array<{ value: [number, string] }> } };
          return body.data?.result?.[0];
        }, 15_000).catch((error: Error) => {
          throw new Error(`${error.message}\n${prometheus.output()}`);
        });
        assertEquals(result.value[1], "42");
      } finally {
        await prometheus.stop();
      }
    },
  );
});
