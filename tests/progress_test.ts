import { describe, test } from "node:test";
import { assert, assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { installConsoleGuard } from "../src/producer/console_guard.ts";
import { resolveOptions } from "../src/producer/options.ts";
import { createTerminalShare, type ProgressSpec, TERMINAL_LOCK } from "../src/protocol.ts";
import {
  formatBarLine,
  formatCount,
  formatDuration,
  formatEta,
  formatPlainLine,
  formatRate,
  type ProgressView,
} from "../src/sinks/_progress_format.ts";
import { SmoothedRate } from "../src/sinks/_smoothed_rate.ts";
import { lockTerminal, unlockTerminal } from "../src/sinks/_terminal.ts";
import { createSinks } from "../src/worker/create_sinks.ts";
import { runScript, runtimeCommand, screensInTerminal } from "./_helpers.ts";

const WORKER = new URL("../src/worker/sidecar_worker.ts", import.meta.url);

const view = (overrides: Partial<ProgressView> = {}): ProgressView => ({
  label: "fit",
  done: 450,
  total: 1000,
  perSecond: 12.3,
  elapsedMs: 37_000,
  etaMs: 44_200,
  ...overrides,
});

describe("progress formats", () => {
  test("durations read as the two largest whole units", () => {
    assertEquals(formatDuration(0), "0s");
    assertEquals(formatDuration(999), "0s");
    assertEquals(formatDuration(59_999), "59s");
    assertEquals(formatDuration(65_000), "1m05s");
    assertEquals(formatDuration(3_600_000 + 2 * 60_000 + 59_000), "1h02m");
    assertEquals(formatDuration(2 * 86_400_000 + 3 * 3_600_000), "2d03h");
    assertEquals(formatDuration(-5), "0s");
    assertEquals(formatDuration(NaN), "?");
  });

  test("an ETA rounds up, so it reads 0s only at the end", () => {
    assertEquals(formatEta(1), "1s");
    assertEquals(formatEta(0), "0s");
    assertEquals(formatEta(64_001), "1m05s");
    assertEquals(formatEta(undefined), "?");
  });

  test("rates take three significant digits and an SI suffix", () => {
    assertEquals(formatRate(12_345), "12.3k/s");
    assertEquals(formatRate(12.34), "12.3/s");
    assertEquals(formatRate(123.4), "123/s");
    assertEquals(formatRate(7.5), "7.50/s");
    assertEquals(formatRate(0.5), "0.50/s");
    assertEquals(formatRate(999.6), "1.00k/s");
    assertEquals(formatRate(1_500_000), "1.50M/s");
    assertEquals(formatRate(0), "0/s");
    assertEquals(formatRate(NaN), "?/s");
  });

  test("counts are exact below 100,000 and compact above", () => {
    assertEquals(formatCount(450), "450");
    assertEquals(formatCount(99_999), "99999");
    assertEquals(formatCount(123_456), "123k");
    assertEquals(formatCount(2.5), "2.50");
  });

  test("a plain line has percent, counts, rate, elapsed and ETA; no total means no percent and no ETA", () => {
    assertEquals(formatPlainLine(view()), "fit: 45% 450/1000 12.3/s elapsed 37s ETA 45s");
    assertEquals(formatPlainLine(view({ total: undefined })), "fit: 450 12.3/s elapsed 37s");
    assertEquals(formatPlainLine(view({ done: 1000, etaMs: 0 })), "fit: 100% 1000/1000 12.3/s elapsed 37s");
    assertEquals(formatPlainLine(view({ label: "a\x1b[2Jb" })).slice(0, 10), "a\\x1b[2Jb:");
  });

  test("a bar line at 100 columns shows a 30-cell bar and every number", () => {
    assertEquals(
      formatBarLine(view(), 100, 5),
      "fit   [=============>                ]  45% 450/1000 12.3/s 37s ETA 45s",
    );
    assertEquals(formatBarLine(view({ total: undefined }), 100, 5), "fit   450 12.3/s 37s");
  });

  test("a bar line never reaches the terminal's width, and keeps percent and ETA longest", () => {
    const long = view({ label: "a-rather-long-stage-name", done: 123_456, total: 9_876_543 });
    for (let columns = 20; columns <= 200; columns++) {
      for (const v of [view(), long, view({ total: undefined })]) {
        const line = formatBarLine(v, columns, Math.min(v.label.length, Math.floor(columns / 3)));
        assert(line.length < columns, `${columns} columns: ${JSON.stringify(line)}`);
      }
    }
    const narrow = formatBarLine(long, 30, 10);
    assertMatch(narrow, / 1% ETA 45s$/);
    assert(!narrow.includes("["), "no room for a bar at 30 columns");
    assertEquals(formatBarLine(view({ label: "x\x1by" }), 100, 6).slice(0, 7), "x\\x1by ");
  });
});

describe("progress ETA", () => {
  // 100 units per chunk at an average of 100 units/s, but chunks take 0.2 to 1.8 s: a rate from the last chunk
  // alone would swing between 55 and 500 units/s.
  const CHUNK_MS = [200, 1800, 600, 1400, 1000];
  const TOTAL = 10_000;

  test("irregular chunks do not make the smoothed ETA jump", () => {
    const rate = new SmoothedRate();
    rate.update(0, 0);
    let time = 0;
    let done = 0;
    let previous: { eta: number; time: number } | undefined;
    let worstError = 0;
    let worstJump = 0;
    let worstNaive = 0;
    for (let k = 0; done < TOTAL; k++) {
      const ms = CHUNK_MS[k % CHUNK_MS.length]!;
      time += ms;
      done += 100;
      rate.update(time, done);
      const eta = rate.eta(TOTAL - done, time)!;
      const truth = (TOTAL - done) * 10; // ms left at 100 units/s
      // After a 20 s warm-up, and before the last 10 s where a single chunk is a large share of what is left.
      if (k >= 20 && truth > 10_000) {
        worstError = Math.max(worstError, Math.abs(eta - truth) / truth);
        worstNaive = Math.max(worstNaive, Math.abs((TOTAL - done) / (100 / ms) - truth) / truth);
        // The ETA shown just before this update was the previous one counted down by the time since.
        if (previous) {
          worstJump = Math.max(worstJump, Math.abs(eta - (previous.eta - (time - previous.time))) / truth);
        }
      }
      previous = { eta, time };
    }
    // Measured: within 4.4% of the truth, jumps of at most 12% of the time left; the last chunk alone: 80% off.
    assert(worstError < 0.1, `ETA off by ${(worstError * 100).toFixed(1)}%`);
    assert(worstJump < 0.15, `ETA jumped by ${(worstJump * 100).toFixed(1)}% of the time left`);
    assert(worstNaive > 0.5, `the sequence is irregular: the last chunk's rate is ${worstNaive} off`);
  });

  test("between updates the ETA counts down with the clock; past the predicted end it is unknown", () => {
    const rate = new SmoothedRate();
    rate.update(0, 0);
    rate.update(1_000, 100);
    assertEquals(rate.perSecond, 100);
    assertEquals(rate.eta(900, 1_000), 9_000);
    assertEquals(rate.eta(900, 4_000), 6_000);
    assertStrictEquals(rate.eta(900, 10_000), undefined);
    assertEquals(rate.eta(0, 10_000), 0);
  });

  test("one update gives no rate and no ETA; progress going back starts anew", () => {
    const rate = new SmoothedRate();
    rate.update(0, 5);
    assert(Number.isNaN(rate.perSecond));
    assertStrictEquals(rate.eta(10, 0), undefined);
    rate.update(1_000, 10);
    rate.update(2_000, 0);
    assert(Number.isNaN(rate.perSecond));
  });
});

describe("progress sink option", () => {
  test('kind "progress" resolves with defaults, the terminal size and a shared array for the guard', () => {
    const { sinks } = resolveOptions({ sinks: [{ kind: "progress" }] }, WORKER);
    const spec = sinks[0] as ProgressSpec;
    assertEquals(spec.kind, "progress");
    assertEquals(spec.mode, "auto");
    assertEquals(spec.plainInterval, 5_000);
    assert(spec.columns >= 20 && spec.rows >= 1, `size ${spec.columns}x${spec.rows}`);
    assert(spec.terminal.buffer instanceof SharedArrayBuffer);
    assertEquals(structuredClone(spec).kind, "progress");
    const forced = resolveOptions(
      { sinks: [{ kind: "progress", mode: "plain", plainInterval: 250, columns: 60 }] },
      WORKER,
    ).sinks[0] as ProgressSpec;
    assertEquals([forced.mode, forced.plainInterval, forced.columns], ["plain", 250, 60]);
  });

  test("invalid progress options are TypeErrors naming the option", () => {
    const bad = (option: Record<string, unknown>) =>
      resolveOptions({ sinks: ["console", { kind: "progress", ...option } as never] }, WORKER);
    assertThrows(() => bad({ mode: "fancy" }), TypeError, 'sinks[1].mode: expected "auto", "tty" or "plain"');
    assertThrows(() => bad({ plainInterval: 0 }), TypeError, "sinks[1].plainInterval");
    assertThrows(() => bad({ columns: 5 }), TypeError, "sinks[1].columns");
    assertThrows(
      () => resolveOptions({ sinks: [{ kind: "bars" } as never] }, WORKER),
      TypeError,
      'use "console", "ndjson", "progress", "report", "pushgateway", "otlp" or "custom"',
    );
  });

  test("the sidecar builds it by name", async () => {
    const { sinks } = resolveOptions({ sinks: [{ kind: "progress", mode: "plain" }] }, WORKER);
    const [built] = await createSinks(sinks);
    assertEquals(built?.name, "progress");
    assertEquals(typeof built?.sink.records, "function");
  });

  test("the console guard changes nothing without a progress sink, and uninstalls what it wrapped", () => {
    const log = console.log;
    const none = installConsoleGuard(resolveOptions({ sinks: ["console"] }, WORKER).sinks);
    assertStrictEquals(console.log, log);
    none();
    const uninstall = installConsoleGuard(resolveOptions({ sinks: [{ kind: "progress" }] }, WORKER).sinks);
    try {
      assert(console.log !== log, "console.log is wrapped");
    } finally {
      uninstall();
    }
    assertStrictEquals(console.log, log);
    uninstall();
    assertStrictEquals(console.log, log);
  });
});

describe("terminal lock", () => {
  test("a lock left by a dead writer is taken over after a bounded wait; a try does not wait", () => {
    const share = createTerminalShare();
    assert(lockTerminal(share, 0));
    assert(!lockTerminal(share, 0), "busy: a try fails at once");
    const started = performance.now();
    assert(lockTerminal(share), "taken over");
    const waited = performance.now() - started;
    // The wait is 250 ms; 2 s covers a loaded machine while still proving it does not hang.
    assert(waited >= 200 && waited < 2_000, `waited ${waited.toFixed(0)} ms`);
    unlockTerminal(share);
    assertEquals(Atomics.load(share, TERMINAL_LOCK), 0);
  });
});

describe("progress sink output", () => {
  test("plain mode (stderr a pipe): throttled lines, no \\r or escape codes, each label's last at 100%", async () => {
    const result = await runScript(new URL("./fixtures/progress_plain.ts", import.meta.url), [], 20_000);
    assertEquals(result.code, 0, result.stderr);
    assert(!result.stderr.includes("\r"), "no carriage return");
    assert(!result.stderr.includes("\x1b"), "no escape code");
    const lines = result.stderr.trimEnd().split("\n");
    const of = (label: string) => lines.filter((line) => line.startsWith(`${label}: `));
    // Steps of 10% come faster than plainInterval (1 s): one line per step, 0% to 100%.
    assertEquals(of("load").map((line) => line.split(" ")[1]), [
      "0%",
      "10%",
      "20%",
      "30%",
      "40%",
      "50%",
      "60%",
      "70%",
      "80%",
      "90%",
      "100%",
    ]);
    assertEquals(of("fit").length, 11);
    assertMatch(of("fit").at(-1)!, /^fit: 100% 140\/140 70\.0\/s elapsed 2s$/);
    // No total: a line per plainInterval of the records' times over 5 s, no percent, no ETA.
    assertEquals(of("scan").map((line) => line.split(" ")[1]), ["0", "30", "60", "90", "120", "150"]);
    assert(of("scan").every((line) => !line.includes("%") && !line.includes("ETA")));
    assertEquals(of("evil\\x1b[31m"), ["evil\\x1b[31m: 100% 2/2 1.00/s elapsed 1s"]);
    assertMatch(lines.at(-1)!, /^total: 342 /);
  });

  test("on a terminal the block redraws in place, ends at 100%, and printed lines stay whole", async () => {
    const expected: string[] = [];
    for (let step = 0; step <= 40; step++) {
      if (step % 5 === 2) expected.push(`main line ${step} ${"m".repeat(40)}`);
      if (step % 10 === 7 && !("Deno" in globalThis)) expected.push(`part one ${step} part two ${step}`);
      if (step % 5 === 4) expected.push(`Event: sidecar line ${step} ${"s".repeat(40)}`);
    }
    const bar = /^(load|fit|total) +\[[=> ]{30}\] +\d+% \d+\/\d+ [\d.?]+\/s \w+( ETA [\w?]+)?$/;
    // The fixture takes about 3 s; 30 s covers a loaded machine.
    const screens = await screensInTerminal(
      runtimeCommand(new URL("./fixtures/progress_tty.ts", import.meta.url)),
      { columns: 100, rows: 50 },
      30_000,
    );
    const last = screens.at(-1)!;
    assertEquals(last.slice(-3), ["Telemetry stopped", "FIXTURE DONE", "EXIT=0"]);
    // Every screen holds only whole printed lines (or the start of the line being written in two parts) and bars.
    for (const screen of screens) {
      for (const line of screen) {
        const known = bar.test(line) || expected.includes(line) || /^part one \d+ ?$/.test(line) ||
          last.slice(-3).includes(line);
        assert(known, `A garbled line: ${JSON.stringify(line)} in\n${screen.join("\n")}`);
      }
    }
    // The printed lines, in order, once each; then the final block, the only bars left on the screen.
    assertEquals(last.filter((line) => !bar.test(line)).slice(0, -3), expected);
    const bars = last.filter((line) => bar.test(line));
    assertEquals(bars.map((line) => line.split(/ +/)[0]), ["load", "fit", "total"]);
    assert(bars.every((line) => line.includes("] 100% ")), bars.join("\n"));
    // The bar advanced on screen while the run went: several percents of "fit" below 100, in order.
    const fits = screens.flatMap((screen) =>
      screen.filter((l) => l.startsWith("fit ")).map((l) => Number(/(\d+)%/.exec(l)![1]))
    );
    const below = [...new Set(fits.filter((p) => p < 100))];
    assert(below.length >= 3, `fit was seen at ${below.join(", ")}%`);
    assertEquals(below, [...below].sort((a, b) => a - b));
  });
});
