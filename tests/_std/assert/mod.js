export * from "deno-std/assert/mod.js";
