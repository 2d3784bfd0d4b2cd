// Builds the npm package into npm/ from the Deno sources, then runs the test suite with Node against it.
//   deno task build:npm [--skip-tests]
// Emits ESM .js and .d.ts per module with tsc (relative .ts imports and worker URLs rewritten to .js), writes
// package.json from deno.json, copies README and LICENSE, and checks the result with npm pack, publint and attw.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { localBin, ROOT, systemNode } from "./_tools.ts";

const root = ROOT;
const out = join(root, "npm");
const bin = localBin;
const skipTests = process.argv.includes("--skip-tests");

function run(command: string, args: string[], cwd = root): void {
  console.log(`$ ${[relative(root, command) || command, ...args].join(" ")}`);
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`Build failed: ${command} exited with ${result.status ?? result.signal}`);
    process.exit(1);
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// 1. Compile. Tests, fixtures, the demos and the benchmark are compiled too (to run them on Node), but not packed.
const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2023", "ES2024.SharedMemory", "ESNext.Disposable", "DOM"],
    types: ["node"],
    rootDir: "..",
    outDir: ".",
    declaration: true,
    rewriteRelativeImportExtensions: true,
    allowImportingTsExtensions: true,
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    erasableSyntaxOnly: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    allowJs: false,
  },
  include: [
    "../mod.ts",
    "../src/**/*.ts",
    "../tests/**/*.ts",
    "../scripts/demo*.ts",
    "../scripts/flights_worker.ts",
    "../scripts/bench*.ts",
  ],
};
writeFileSync(join(out, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
run(bin("tsc"), ["-p", join(out, "tsconfig.json")]);
rmSync(join(out, "tsconfig.json"));

// 2. Worker and fixture URLs name .ts files; in the build they are .js. Check that each one ships.
const URL_TS = /new URL\((["'])(\.{1,2}\/[^"']+)\.ts\1, import\.meta\.url\)/g;
for (const file of walk(out).filter((f) => f.endsWith(".js"))) {
  const text = readFileSync(file, "utf8");
  if (!URL_TS.test(text)) continue;
  // Line by line: a doc comment's example names the reader's own files, which are theirs to ship.
  const rewritten = text.split("\n").map((line) => {
    if (/^\s*(\*|\/\/)/.test(line)) return line;
    return line.replace(URL_TS, (_m, q: string, path: string) => {
      const target = join(dirname(file), `${path}.js`);
      const deliberatelyMissing = path.includes("missing_worker") || path.includes("no_such_sink");
      if (!existsSync(target) && !deliberatelyMissing) {
        console.error(`Build failed: ${relative(out, file)} refers to ${path}.ts, which was not emitted`);
        process.exit(1);
      }
      return `new URL(${q}${path}.js${q}, import.meta.url)`;
    });
  }).join("\n");
  writeFileSync(file, rewritten);
}

// 3. package.json, README, LICENSE.
const pkg = {
  name: deno.name,
  version: deno.version,
  description:
    "A telemetry sidecar for long computations: events leave the computing thread in batches and are handled by sinks in a worker",
  license: deno.license,
  type: "module",
  main: "./mod.js",
  types: "./mod.d.ts",
  exports: { ".": { types: "./mod.d.ts", default: "./mod.js" } },
  files: ["mod.js", "mod.d.ts", "src/**/*.js", "src/**/*.d.ts"],
  engines: { node: ">=20.16" },
  sideEffects: false,
  keywords: ["telemetry", "worker", "sidecar", "metrics", "progress", "deno", "bun"],
};
writeFileSync(join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
cpSync(join(root, "README.md"), join(out, "README.md"));
cpSync(join(root, "LICENSE"), join(out, "LICENSE"));

// 4. What users get, and whether it is well formed.
run("npm", ["pack", "--dry-run"], out);
run(bin("publint"), ["run", "--strict"], out);
run(bin("attw"), ["--pack", ".", "--profile", "esm-only"], out);

// 5. The suite on Node against the build, as a user of the package would run it.
if (!skipTests) {
  const node = systemNode();
  run(node, ["--version"]);
  const tests = readdirSync(join(out, "tests")).filter((f) => f.endsWith("_test.js")).map((f) =>
    join(out, "tests", f)
  );
  run(node, ["--test", ...tests]);
}
