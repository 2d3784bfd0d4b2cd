// The smallest program: a loop sends 100 events, then a graceful stop.
import { startTelemetry } from "../mod.ts";

const telemetry = await startTelemetry();
for (let i = 0; i < 100; i++) telemetry.event(i);
await telemetry.stop();
