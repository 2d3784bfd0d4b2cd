export * from "deno-std/async/deadline.js";
