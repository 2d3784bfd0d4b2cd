export * from "deno-std/async/delay.js";
