// The receiving end of the naive design in the benchmark: a worker that only counts the messages it gets.
import { parentPort } from "node:worker_threads";

let received = 0;
parentPort!.on("message", (message: unknown) => {
  if (message === "count?") parentPort!.postMessage(received);
  else received++;
});
