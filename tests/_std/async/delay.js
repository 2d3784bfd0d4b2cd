// @ts-self-types="./delay.d.ts"
export * from "deno-std/async/delay.js";
