import { describe, test } from "node:test";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { startTelemetry, type TelemetryOptions } from "../mod.ts";

describe("startTelemetry()", () => {
  test("a worker file that does not exist rejects with a message naming it", async () => {
    const workerUrl = new URL("./fixtures/missing_worker.ts", import.meta.url);
    const started = performance.now();
    const error = await assertRejects(() => startTelemetry({ workerUrl, startTimeout: 5_000 }), Error);
    assert(error.message.startsWith("Telemetry worker"), error.message);
    assert(error.message.includes("missing_worker"), error.message);
    // A load failure is reported, not waited out: well inside the 5 s start timeout.
    assert(performance.now() - started < 4_000, `rejected after ${performance.now() - started} ms`);
  });

  test("a worker that throws while loading rejects with its error", async () => {
    const workerUrl = new URL("./fixtures/throwing_worker.ts", import.meta.url);
    const error = await assertRejects(() => startTelemetry({ workerUrl, startTimeout: 5_000 }), Error);
    assert(error.message.includes("fixture worker refuses to load"), error.message);
  });

  test("a worker that never reports ready rejects after startTimeout", async () => {
    const workerUrl = new URL("./fixtures/silent_worker.ts", import.meta.url);
    const started = performance.now();
    await assertRejects(
      () => startTelemetry({ workerUrl, startTimeout: 300 }),
      Error,
      "Telemetry worker did not start within 300 ms",
    );
    // The timeout is 300 ms; 3 s leaves room for a loaded CI machine.
    assert(performance.now() - started < 3_000);
  });

  test("a custom sink module that does not exist rejects with the module named", async () => {
    const module = new URL("./fixtures/no_such_sink.ts", import.meta.url);
    const error = await assertRejects(() => startTelemetry({ sinks: [{ kind: "custom", module }] }), Error);
    assert(error.message.includes("no_such_sink"), error.message);
    assert(
      error.message.startsWith("Telemetry worker failed to start: sinks[0] (custom): module"),
      error.message,
    );
  });

  test("invalid options are rejected with a message naming the option", async () => {
    const cases: Array<[TelemetryOptions, string]> = [
      [{ batchSize: -1 }, "Invalid option batchSize"],
      [{ batchSize: 1.5 }, "Invalid option batchSize"],
      [{ startTimeout: 0 }, "Invalid option startTimeout"],
      [{ stopTimeout: NaN }, "Invalid option stopTimeout"],
      [{ sinks: [{ kind: "nope" } as never] }, 'Invalid option sinks[0].kind: "nope" is not a sink kind'],
      [{ sinks: ["console", { kind: "ndjson", path: "" }] }, "Invalid option sinks[1].path"],
      [{ sinks: [{ kind: "custom", module: "./relative.ts" }] }, "Invalid option sinks[0].module"],
      [{ sinks: [{ kind: "custom", module: "file:///x.ts", options: { f: () => 1 } }] }, "sinks[0].options"],
    ];
    for (const [options, message] of cases) {
      await assertRejects(() => startTelemetry(options), TypeError, message);
    }
  });

  test("options of the wrong shape, holes and misspelt keys are rejected with a message naming them", async () => {
    const cases: Array<[unknown, string]> = [
      [5, "Invalid options: expected an object or nothing, got 5"],
      ["console", "Invalid options: expected an object or nothing"],
      [["console"], "Invalid options: expected an object or nothing, got an array"],
      [{ sinks: "console" }, "Invalid option sinks: expected an array"],
      [{ sinks: null }, "Invalid option sinks: expected an array"],
      // deno-lint-ignore no-sparse-arrays
      [{ sinks: [, "console"] }, "Invalid option sinks[0]: expected"],
      [{ sink: ["console"] }, 'Unknown option "sink"'],
      [{ overflow: "wait" }, 'Invalid option overflow: expected "drop" or "block"'],
      [{ maxQueued: 0 }, "Invalid option maxQueued"],
      [{ maxEventBytes: 10 }, "Invalid option maxEventBytes"],
      [{ exitTimeout: -5 }, "Invalid option exitTimeout"],
      [
        { sinks: [{ kind: "console", colour: true }] },
        "Unknown option sinks[0].colour: the options of a console sink are none",
      ],
      [
        { sinks: [{ kind: "ndjson", path: "x", flush: 1 }] },
        "Unknown option sinks[0].flush: the options of a ndjson sink are path",
      ],
      [
        { sinks: [{ kind: "pushgateway", url: "http://127.0.0.1:9091", job: "j", extra: 1 }] },
        "Unknown option sinks[0].extra",
      ],
      [{ sinks: [{ kind: "report", path: "r.html", titel: "x" }] }, "Unknown option sinks[0].titel"],
      [{ sinks: [{ kind: "progress", modes: "tty" }] }, "Unknown option sinks[0].modes"],
      [
        {
          sinks: [{
            kind: "otlp",
            endpoint: "http://127.0.0.1:4318",
            headers: { Authorization: "Bearer \u2713" },
          }],
        },
        'Invalid option sinks[0].headers["Authorization"]: a header value must be Latin-1 text without control characters',
      ],
      [
        { sinks: [{ kind: "otlp", endpoint: "http://127.0.0.1:4318", headers: { "x-key": "a\u0001b" } }] },
        "a header value must be Latin-1 text",
      ],
      [{ metricsInterval: 0 }, "Invalid option metricsInterval"],
      [{ maxLabelSets: 0 }, "Invalid option maxLabelSets"],
    ];
    for (const [options, message] of cases) {
      await assertRejects(() => startTelemetry(options as TelemetryOptions), TypeError, message);
    }
  });

  test("startTelemetry(null) and startTelemetry({}) take the defaults", async () => {
    for (const options of [null, {}]) {
      const telemetry = await startTelemetry(options);
      const report = await telemetry.stop();
      assertEquals(report.confirmed, true);
    }
  });

  test("a sink factory that throws rejects with the option, export and module named", async () => {
    const module = new URL("./fixtures/failing_sink.ts", import.meta.url);
    const error = await assertRejects(
      () => startTelemetry({ sinks: [{ kind: "custom", module, export: "throwingFactory" }] }),
      Error,
    );
    assert(error.message.includes('sinks[0] (custom): "throwingFactory" from'), error.message);
    assert(error.message.includes("threw: factory refuses"), error.message);
  });
});
