/**
 * The sidecar's worker entry: waits for `init`, builds the sinks, reports ready, then serves the control channel.
 *
 * @module
 */
import { parentChannel } from "../runtime/parent.ts";
import { catchStrayErrors } from "../runtime/stray.ts";
import type { FromSidecar, ToSidecar } from "../protocol.ts";
import { createSinks } from "./create_sinks.ts";
import { Sidecar } from "./sidecar.ts";

const parent = parentChannel();
const send = (message: FromSidecar) => parent.post(message);
let sidecar: Sidecar | undefined;
const early: ToSidecar[] = [];

function serve(message: ToSidecar): void {
  switch (message.kind) {
    case "batch":
    case "events":
      sidecar!.receive(0, message);
      break;
    case "define":
      sidecar!.define(0, message);
      break;
    case "connect":
      sidecar!.addProducer(message.producer, message.port);
      break;
    case "flush":
    case "stop":
      void sidecar!.sync(message);
      break;
  }
}

parent.onMessage(async (data) => {
  const message = data as ToSidecar;
  if (sidecar) return serve(message);
  if (message.kind !== "init") return void early.push(message);
  try {
    const created = new Sidecar(await createSinks(message.sinks), {
      startTime: message.startTime,
      metricsInterval: message.metricsInterval,
      maxLabelSets: message.maxLabelSets,
    });
    created.addProducer(message.producer);
    created.startClock(message.clock);
    catchStrayErrors((error) => created.strayError(error));
    sidecar = created;
    for (const m of early.splice(0)) serve(m);
    await created.sync({ kind: "ready", reply: message.ready, timeout: 0 });
  } catch (error) {
    send({ kind: "fatal", message: error instanceof Error ? error.message : String(error) });
  }
});
