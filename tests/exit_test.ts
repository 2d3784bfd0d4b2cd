import { describe, test } from "node:test";
import { join } from "node:path";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { type ChildResult, readNdjson, runScript, tempDir } from "./_helpers.ts";

const EXIT_PATHS = new URL("./fixtures/exit_paths.ts", import.meta.url);
const N = 10_000;
const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;

async function exitRun(mode: string): Promise<ChildResult & { lines: number; order: boolean }> {
  const path = join(tempDir(), `${mode}.ndjson`);
  // 30 s: a normal run takes well under a second; the exit drain is bounded by its 2 s default.
  const result = await runScript(EXIT_PATHS, [mode, path], 30_000);
  const values = readNdjson(path).map((line) => line.value);
  return { ...result, lines: values.length, order: values.every((v, i) => v === i) };
}

describe("nothing lost at exit without stop()", () => {
  const cases: Array<[string, number, string]> = [
    ["end", 0, "the program reaching its end"],
    ["exit0", 0, "process.exit(0)"],
    ["exit3", 3, "process.exit(3)"],
    ["throw", 1, "an uncaught exception"],
    ["reject", 1, "an unhandled rejection"],
    ["sigint", 130, "SIGINT"],
    ["sigterm", 143, "SIGTERM"],
  ];
  for (const [mode, code, what] of cases) {
    test(`${what}: all ${N} events are in the NDJSON file and the exit code is ${code}`, async () => {
      const result = await exitRun(mode);
      assertEquals(result.signal, null, `killed by ${result.signal}: ${result.stderr}`);
      assertEquals(result.lines, N, result.stderr);
      assert(result.order, "events in order");
      assertEquals(result.code, code, result.stderr);
      assert(!result.stderr.includes("not handled"), result.stderr);
    });
  }

  if (isDeno) {
    test(`Deno.exit(4): all ${N} events are in the NDJSON file and the exit code is 4`, async () => {
      const result = await exitRun("deno-exit");
      assertEquals(result.lines, N, result.stderr);
      assertEquals(result.code, 4);
    });
  }

  test("a stuck sink at exit: the drain gives up after exitTimeout and says how many events were not handled", async () => {
    const result = await runScript(new URL("./fixtures/exit_stuck.ts", import.meta.url), [], 30_000);
    assertEquals(result.code, 7);
    assertStringIncludes(result.stderr, "Telemetry: 100 events were not handled before exit");
    assertStringIncludes(result.stderr, "did not finish within 500 ms");
    // Start plus the 500 ms drain; 10 s is far below a hang.
    assert(result.ms < 10_000, `took ${result.ms} ms`);
  });

  test("two telemetries drain at the same time at exit, each by its own deadline", async () => {
    const result = await runScript(new URL("./fixtures/exit_parallel.ts", import.meta.url), [], 30_000);
    assertEquals(result.code, 5);
    const drained = Number(/drained in (\d+) ms/.exec(result.stdout)?.[1]);
    // One exitTimeout is 1,500 ms; one after the other would take 3,000 ms or more.
    assert(drained >= 1_000 && drained < 2_600, `drained in ${drained} ms`);
    assertEquals(result.stderr.match(/1 events were not handled before exit/g)?.length, 2, result.stderr);
  });

  test("an uncaught error the program cancels itself does not stop the telemetry", async () => {
    const result = await runScript(
      new URL("./fixtures/error_cancelled.ts", import.meta.url),
      [tempDir()],
      30_000,
    );
    assertEquals(result.code, 0, result.stderr);
    assertEquals(JSON.parse(result.stdout), { handled: 2, errors: 0, confirmed: true });
  });

  test("handleSignals: false leaves SIGINT to the runtime, which ends even a synchronous stretch at once", async () => {
    const result = await runScript(new URL("./fixtures/signal_default.ts", import.meta.url), [], 30_000);
    assert(result.signal === "SIGINT" || result.code === 130, `code ${result.code}, signal ${result.signal}`);
    assertEquals(result.stdout, "");
    // The stretch would last 3 s; a prompt end is far below that.
    assert(result.ms < 2_500, `took ${result.ms} ms`);
  });

  test("a program that handles SIGINT itself keeps control: it stops telemetry and exits as it chooses", async () => {
    const result = await exitRun("sigint-handled");
    assertStringIncludes(result.stdout, `program handled SIGINT, handled ${N}`);
    assertEquals(result.lines, N);
    assertEquals(result.code, 0);
  });

  test("event() after stop() and from an exit handler never throws; it is counted as dropped", async () => {
    const result = await exitRun("event-in-exit-handler");
    assertStringIncludes(result.stdout, "dropped 1");
    assertStringIncludes(result.stdout, "exit handler sent an event without throwing");
    assertEquals(result.lines, N);
    assertEquals(result.code, 0, result.stderr);
  });
});

describe("exit with network sinks that cannot deliver", () => {
  test("process.exit ends within exitTimeout and stderr says what the OTLP and Pushgateway sinks lost", async () => {
    // A receiver that accepts connections and never answers: requests hang until their own timeouts (30 s).
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await runScript(new URL("./fixtures/exit_network.ts", import.meta.url), [
        `http://127.0.0.1:${port}`,
      ]);
      assertEquals(result.code, 0, result.stderr);
      // exitTimeout is 1.5 s; start-up and a loaded machine take the rest of the 10 s.
      assert(result.ms < 10_000, `took ${result.ms} ms`);
      assertMatch(result.stderr, /Telemetry sink otlp failed: .*lost 10 logs/);
      assertMatch(result.stderr, /Telemetry sink pushgateway failed: .*final push did not finish/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
