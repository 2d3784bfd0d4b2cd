// Real services for the tests, started on free loopback ports: a Prometheus Pushgateway and a Prometheus server.
// Each runs under a small shell that holds the read end of a pipe from the test process: when the test process
// ends, for whatever reason, the pipe closes and the shell stops the service, so none outlives the tests.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PUSHGATEWAY_BIN = "/usr/bin/prometheus-pushgateway";
export const PROMETHEUS_BIN = "/usr/bin/prometheus";

/** Why a test that needs `binary` cannot run here, or `false` when it can: for `test(name, { skip }, fn)`. */
export function missing(binary: string): string | false {
  return existsSync(binary)
    ? false
    : `${binary} is not installed (Debian package ${binary.split("/").pop()})`;
}

/** A running service. */
export interface Service {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** What it printed so far (the last 64 KiB), for failure messages. */
  output(): string;
  /** Stops it and waits until it has exited. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// Runs "$@" until it exits or the input ends, whichever comes first.
// (A background job's input is /dev/null, so the pipe is kept as fd 3 for the watcher.)
const GUARD = 'exec 3<&0; "$@" 3<&- & pid=$!; ' +
  '{ cat <&3 >/dev/null; kill "$pid" 2>/dev/null; } >/dev/null 2>&1 & exec 3<&-; wait "$pid"';

/**
 * Starts `binary` with `args(port)` and waits until `GET <url><readyPath>` answers 200, at most `limitMs`.
 *
 * @throws {Error} When it does not answer in time; the message holds what it printed.
 */
export async function startService(
  binary: string,
  args: (port: number) => string[],
  options: { readyPath: string; limitMs: number; cleanup?: () => void },
): Promise<Service> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("sh", ["-c", GUARD, "sh", binary, ...args(port)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const take = (chunk: Buffer) => (output = (output + chunk.toString("utf8")).slice(-65_536));
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let stopped = false;
  const service: Service = {
    url,
    output: () => output,
    async stop() {
      if (!stopped) {
        stopped = true;
        child.stdin!.end();
        // The guard stops the service on end of input; a kill covers a guard that is stuck.
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
        options.cleanup?.();
      }
    },
  };
  const deadline = performance.now() + options.limitMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(url + options.readyPath, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return service;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await service.stop();
  throw new Error(`${binary} did not answer on ${url} within ${options.limitMs} ms:\n${output}`);
}

/** Starts a Pushgateway on a free loopback port, keeping metrics in memory only. */
export function startPushgateway(): Promise<Service> {
  return startService(PUSHGATEWAY_BIN, (port) => [
    `--web.listen-address=127.0.0.1:${port}`,
    "--persistence.file=",
    "--log.level=warn",
  ], { readyPath: "/-/ready", limitMs: 10_000 });
}

/** Starts Prometheus on a free loopback port, scraping `target` (host:port) every second, keeping its labels. */
export function startPrometheus(target: string): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), "telemetry-prometheus-"));
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: pushgateway",
      "    honor_labels: true",
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"),
  );
  return startService(PROMETHEUS_BIN, (port) => [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ], {
    readyPath: "/-/ready",
    limitMs: 15_000,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
}

/** One sample line of a text exposition. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the sample lines of a Prometheus text exposition (comments skipped), unescaping label values. */
export function parseExposition(text: string): ParsedSample[] {
  const samples: ParsedSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
    let at = name.length;
    const labels: Record<string, string> = {};
    if (line[at] === "{") {
      at++;
      while (line[at] !== "}") {
        const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
        if (label === null) throw new Error(`Unreadable labels at ${at} in ${line}`);
        at += label[0].length;
        let value = "";
        for (; line[at] !== '"'; at++) {
          if (line[at] === "\\") {
            at++;
            value += line[at] === "n" ? "\n" : line[at];
          } else value += line[at];
        }
        labels[label[1]!] = value;
        at++;
        if (line[at] === ",") at++;
      }
      at++;
    }
    const text = line.slice(at).trim().split(" ")[0]!;
    const value = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text);
    samples.push({ name, labels, value });
  }
  return samples;
}
