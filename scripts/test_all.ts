// Runs every check and the whole suite on every runtime, then prints one summary:
//   type check, lint, format and doc lint (Deno); the suite under deno test, bun test and Node 24 on the sources;
//   the doc examples (deno test --doc); the npm build, whose script runs the suite on the user's Node against npm/.
// The last line is "N passed, N failed" over every runtime's tests. Exit code 1 if anything failed.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { localBin, node24, ROOT, systemNode } from "./_tools.ts";

interface Stage {
  name: string;
  command: string;
  args: string[];
  /** Reads passed and failed counts from the output; absent for checks that only pass or fail. */
  count?: (output: string) => { passed: number; failed: number } | undefined;
  env?: Record<string, string>;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const last = (output: string, pattern: RegExp) => [...output.matchAll(pattern)].at(-1);
const nodeCount = (output: string) => {
  // The spec reporter prints "ℹ pass N"; the TAP reporter (Node 20's default when output is not a terminal) "# pass N".
  const pass = last(output, /^(?:ℹ|#) pass (\d+)$/gm);
  const fail = last(output, /^(?:ℹ|#) fail (\d+)$/gm);
  return pass && fail ? { passed: Number(pass[1]), failed: Number(fail[1]) } : undefined;
};
const denoCount = (output: string) => {
  // "ok | 9 passed (30 steps) | 0 failed (8s)": describe blocks are tests and their tests are steps.
  const m = last(output, /(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/g);
  if (!m) return undefined;
  return { passed: Number(m[2] ?? m[1]), failed: Number(m[4] ?? m[3]) };
};
const bunCount = (output: string) => {
  const pass = last(output, /^\s*(\d+) pass$/gm);
  const fail = last(output, /^\s*(\d+) fail$/gm);
  return pass && fail ? { passed: Number(pass[1]), failed: Number(fail[1]) } : undefined;
};

const deno = localBin("deno");
const testFiles = readdirSync(join(ROOT, "tests")).filter((f) => f.endsWith("_test.ts")).map((f) =>
  `tests/${f}`
);
const stages: Stage[] = [
  { name: "deno check", command: deno, args: ["check", "mod.ts", "src/", "tests/", "scripts/"] },
  { name: "deno lint", command: deno, args: ["lint"] },
  { name: "deno fmt --check", command: deno, args: ["fmt", "--check"] },
  { name: "deno doc --lint", command: deno, args: ["doc", "--lint", "mod.ts"] },
  { name: "deno publish --dry-run", command: deno, args: ["publish", "--dry-run", "--allow-dirty"] },
  { name: "deno test", command: deno, args: ["test", "-A", "--no-check", "tests/"], count: denoCount },
  {
    name: "deno test --doc",
    command: deno,
    args: ["test", "-A", "--doc", "mod.ts", "src/"],
    count: denoCount,
  },
  { name: "bun test", command: localBin("bun"), args: ["test", "./tests/"], count: bunCount },
  { name: "node 24 --test (sources)", command: node24(), args: ["--test", ...testFiles], count: nodeCount },
  {
    name: "npm build + user's node --test (npm/)",
    command: deno,
    args: ["run", "-A", "scripts/build_npm.ts"],
    count: nodeCount,
    env: { NODE_FOR_NPM_TESTS: systemNode() },
  },
];

function runStage(stage: Stage): Promise<{ code: number; output: string; seconds: number }> {
  const started = performance.now();
  console.log(`\n=== ${stage.name}: ${[stage.command.replace(ROOT, ""), ...stage.args].join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(stage.command, stage.args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...stage.env, NO_COLOR: "1" },
    });
    let output = "";
    const take = (chunk: Buffer, to: NodeJS.WriteStream) => {
      output += chunk.toString("utf8");
      to.write(chunk);
    };
    child.stdout!.on("data", (chunk: Buffer) => take(chunk, process.stdout));
    child.stderr!.on("data", (chunk: Buffer) => take(chunk, process.stderr));
    child.on("close", (code) => {
      resolve({
        code: code ?? 1,
        output: output.replace(ANSI, ""),
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}

const rows: string[] = [];
let passed = 0;
let failed = 0;
let broken = false;
for (const stage of stages) {
  const { code, output, seconds } = await runStage(stage);
  const counts = stage.count?.(output);
  if (stage.count && !counts) {
    broken = true;
    rows.push(`${stage.name.padEnd(40)} no test summary found (exit ${code})`);
    continue;
  }
  if (counts) {
    passed += counts.passed;
    failed += counts.failed;
  }
  if (code !== 0) broken = true;
  const detail = counts
    ? `${counts.passed} passed, ${counts.failed} failed`
    : code === 0
    ? "ok"
    : `exit ${code}`;
  rows.push(`${stage.name.padEnd(40)} ${detail.padEnd(24)} ${seconds.toFixed(1)} s`);
}
console.log("\n=== summary");
for (const row of rows) console.log(row);
if (broken && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(broken || failed > 0 ? 1 : 0);
