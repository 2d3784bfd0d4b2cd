// @ts-self-types="./mod.d.ts"
export * from "deno-std/assert/mod.js";
