// @ts-self-types="./deadline.d.ts"
export * from "deno-std/async/deadline.js";
