import type { SinkSpec } from "../protocol.ts";
import { consoleSink } from "../sinks/console.ts";
import { ndjsonSink } from "../sinks/ndjson.ts";
import { otlpSinkFromResolved } from "../sinks/otlp.ts";
import { reportSink } from "../sinks/report.ts";
import { pushgatewaySink } from "../sinks/pushgateway.ts";
import { progressSink } from "../sinks/progress.ts";
import type { Sink, SinkFactory } from "../sinks/sink.ts";
import type { NamedSink } from "./sidecar.ts";
import { errorMessage } from "../_text.ts";

/**
 * Builds the sinks inside the sidecar, loading custom sink modules.
 *
 * @throws {Error} When a sink cannot be built; the message names the sink.
 */
export async function createSinks(specs: readonly SinkSpec[]): Promise<NamedSink[]> {
  const sinks: NamedSink[] = [];
  for (const [index, spec] of specs.entries()) {
    try {
      sinks.push(await createSink(spec));
    } catch (error) {
      throw new Error(`sinks[${index}] (${spec.kind}): ${errorMessage(error)}`);
    }
  }
  return sinks;
}

async function createSink(spec: SinkSpec): Promise<NamedSink> {
  switch (spec.kind) {
    case "console":
      return { name: "console", sink: consoleSink() };
    case "ndjson":
      try {
        return { name: "ndjson", sink: ndjsonSink(spec.path) };
      } catch (error) {
        throw new Error(`cannot open ${spec.path}: ${errorMessage(error)}`);
      }
    case "report":
      try {
        return {
          name: "report",
          sink: reportSink({ path: spec.path, title: spec.title, slowestSpans: spec.slowestSpans }),
        };
      } catch (error) {
        throw new Error(`cannot write ${spec.path}: ${errorMessage(error)}`);
      }
    case "custom":
      return { name: spec.export, sink: await loadCustom(spec) };
    case "otlp":
      return { name: "otlp", sink: otlpSinkFromResolved(spec.options) };
    case "pushgateway":
      return { name: "pushgateway", sink: pushgatewaySink(spec) };
    case "progress":
      return { name: "progress", sink: progressSink(spec) };
  }
}

async function loadCustom(spec: Extract<SinkSpec, { kind: "custom" }>) {
  let module: Record<string, unknown>;
  try {
    module = await import(spec.module);
  } catch (error) {
    throw new Error(`module ${spec.module} failed to load: ${errorMessage(error)}`);
  }
  const factory = module[spec.export];
  if (typeof factory !== "function") {
    throw new Error(`module ${spec.module} has no function export "${spec.export}"`);
  }
  let sink: Sink;
  try {
    sink = await (factory as SinkFactory)(spec.options);
  } catch (error) {
    throw new Error(`"${spec.export}" from ${spec.module} threw: ${errorMessage(error)}`);
  }
  if (
    !["handle", "records", "metrics"].some((m) =>
      typeof (sink as unknown as Record<string, unknown>)?.[m] === "function"
    )
  ) {
    throw new Error(
      `Custom sink "${spec.export}" from ${spec.module} returned no object with a handle(), records() or metrics() method`,
    );
  }
  return sink;
}
