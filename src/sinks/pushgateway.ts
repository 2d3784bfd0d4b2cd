import type { PushgatewaySpec } from "../protocol.ts";
import { unrefTimer } from "../runtime/timer.ts";
import { escapeControl } from "./_format.ts";
import { encodePrometheus } from "./_prometheus.ts";
import type { MetricsSnapshot, RunSummary, Sink } from "./sink.ts";

/** Options of `pushgatewaySink()`: those of the `"pushgateway"` sink option, with every default applied. */
export type PushgatewaySinkOptions = Omit<PushgatewaySpec, "kind">;

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
/** Wait before the first retry; doubled for each one after it. */
const BACKOFF_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const EXCERPT = 200;

/** A push the gateway answered with a status outside 2xx. */
export class PushgatewayError extends Error {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The start of the answer's body, at most 200 characters, control characters escaped. */
  readonly body: string;

  /** Builds the error for an answer with `status` and `body` to a push to `url`. */
  constructor(url: string, status: number, body: string) {
    const excerpt = escapeControl(body.length > EXCERPT ? `${body.slice(0, EXCERPT)}…` : body);
    super(`Pushgateway refused the push to ${url} with status ${status}: ${excerpt || "(empty answer)"}`);
    this.name = "PushgatewayError";
    this.status = status;
    this.body = excerpt;
  }
}

/**
 * Pushes the run's metrics to a Prometheus Pushgateway, for batch jobs that end before a scrape would find them.
 * Each push is a `PUT` of the latest snapshot to the group `job` plus `grouping`, so the group holds exactly this
 * run's metrics. Pushes run in the background every `interval` ms (at most one at a time, skipped while nothing
 * changed), and once more at `close()` with the final snapshot, which `close()` waits for. A request that gets
 * no answer within `timeout`, or a 5xx, 408 or 429 answer, is tried again up to `retries` times with doubling
 * waits; another answer outside 2xx fails at once. A failed background push is thrown, once, from the sink's
 * next call, so the sidecar counts it as an error of this sink. `close()` is bounded: a push takes at most
 * `(retries + 1) * timeout` plus the waits, and `close()` waits for at most the push in flight and its own.
 *
 * @param options The gateway, the group and the timing, with defaults applied.
 * @returns The sink.
 */
export function pushgatewaySink(options: PushgatewaySinkOptions): Sink {
  const target = groupUrl(options.url, options.job, options.grouping);
  const failures: Error[] = [];
  let latest: MetricsSnapshot | undefined;
  let pushed: MetricsSnapshot | undefined;
  let inFlight: Promise<void> | undefined;

  const send = async (body: string): Promise<void> => {
    for (let attempt = 1;; attempt++) {
      try {
        return await put(target, body, options.timeout);
      } catch (error) {
        if (!retryable(error) || attempt > options.retries) {
          throw failure(error, target, attempt, options.timeout);
        }
      }
      const wait = Math.min(BACKOFF_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };

  const timer = setInterval(() => {
    const snapshot = latest;
    if (inFlight !== undefined || snapshot === undefined || snapshot === pushed) return;
    // Settles either way, so no rejection is ever left unhandled; a failure waits for the sink's next call.
    inFlight = Promise.resolve().then(() => send(encodePrometheus(snapshot.series, options.labels))).then(
      () => void (pushed = snapshot),
      (error: Error) => void failures.push(error),
    ).finally(() => (inFlight = undefined));
  }, options.interval);
  // The sidecar's own work keeps its thread alive; a forgotten sink should not.
  unrefTimer(timer);

  const surface = (): void => {
    const error = failures.shift();
    if (error !== undefined) throw error;
  };

  return {
    handle: surface,
    records: surface,
    metrics(snapshot: MetricsSnapshot): void {
      latest = snapshot;
      surface();
    },
    flush: surface,
    async close(summary?: RunSummary): Promise<void> {
      clearInterval(timer);
      const final = (async () => {
        await inFlight;
        await send(encodePrometheus(latest?.series ?? [], options.labels));
      })();
      // Given up at the stop's deadline (an exiting process has less time than retries take): reported, not cut.
      const budget = summary === undefined
        ? Infinity
        : Math.max(0, summary.deadline - (performance.timeOrigin + performance.now()));
      let giveUp: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          final,
          new Promise<never>((_, reject) => {
            if (budget !== Infinity) {
              giveUp = setTimeout(
                () =>
                  reject(
                    new Error(`the final push did not finish within the stop's ${Math.round(budget)} ms`),
                  ),
                budget,
              );
            }
          }),
        ]);
      } catch (error) {
        final.catch(() => {}); // still running: its outcome no longer matters
        failures.push(error as Error);
      } finally {
        clearTimeout(giveUp);
      }
      if (failures.length > 1) {
        // close() can be counted only once: the failures not yet thrown are reported together.
        const last = failures.at(-1)!;
        const count = failures.length;
        failures.length = 0;
        throw new Error(`${count} pushes failed since the sink's last call; the last: ${last.message}`, {
          cause: last,
        });
      }
      surface();
    },
  };
}

/**
 * The URL of a group: `<url>/metrics/job/<job>` then `/<name>/<value>` per grouping label. A value holding a `/`,
 * or empty, is written in the gateway's base64 form `/<name>@base64/<base64url>`.
 */
export function groupUrl(url: string, job: string, grouping: Readonly<Record<string, string>>): string {
  let path = `${url.replace(/\/+$/, "")}/metrics${segment("job", job)}`;
  for (const [name, value] of Object.entries(grouping)) path += segment(name, value);
  return path;
}

function segment(name: string, value: string): string {
  if (value !== "" && !value.includes("/")) return `/${name}/${encodeURIComponent(value)}`;
  return `/${name}@base64/${base64url(value)}`;
}

function base64url(value: string): string {
  // The gateway reads `=` as the empty value.
  if (value === "") return "=";
  let binary = "";
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_");
}

async function put(url: string, body: string, timeout: number): Promise<void> {
  const response = await fetch(url, {
    method: "PUT",
    headers: { "content-type": CONTENT_TYPE },
    body,
    signal: AbortSignal.timeout(timeout),
  });
  // Read to the end either way, so the connection is released.
  const text = await response.text();
  if (!response.ok) throw new PushgatewayError(url, response.status, text);
}

function retryable(error: unknown): boolean {
  if (!(error instanceof PushgatewayError)) return true;
  return error.status >= 500 || error.status === 408 || error.status === 429;
}

function failure(error: unknown, url: string, attempts: number, timeout: number): Error {
  const tries = attempts === 1 ? "" : ` (${attempts} attempts)`;
  if (error instanceof PushgatewayError) {
    error.message += tries;
    return error;
  }
  return new Error(
    `Pushgateway at ${url} did not take the push${tries}: ${
      describeError(error, timeout)
    }; check that it runs there`,
    { cause: error },
  );
}

function describeError(error: unknown, timeout: number): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError") return `no answer within ${timeout} ms`;
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === "string"
    ? cause.code
    : typeof cause?.message === "string"
    ? cause.message
    : "";
  return escapeControl(
    detail === "" || error.message.includes(detail) ? error.message : `${error.message}: ${detail}`,
  );
}
