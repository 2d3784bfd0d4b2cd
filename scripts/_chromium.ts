// Headless Chromium for rendering the HTML report: the DOM after parsing, and a screenshot. Each call starts its
// own browser with a fresh profile and no network services, waits for it to exit (killing it at a time limit),
// and deletes the profile.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The Chromium binary: `CHROMIUM` if set, else the first of the usual Debian paths that exists. */
export function chromiumPath(): string | undefined {
  const chosen = process.env.CHROMIUM;
  if (chosen) return chosen;
  return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) =>
    existsSync(p)
  );
}

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
  "--force-device-scale-factor=1",
];

/** What Chromium made of a page: the DOM after parsing, serialized, and a PNG of the window. */
export interface Rendered {
  readonly dom: string;
  readonly png: Uint8Array;
}

/** Loads an HTML file in a window of `width` x `height` pixels; returns its DOM and a screenshot. */
export async function render(
  htmlPath: string,
  size: { readonly width: number; readonly height: number },
  limitMs = 20_000,
): Promise<Rendered> {
  const dir = mkdtempSync(join(tmpdir(), "report-shot-"));
  try {
    const png = join(dir, "shot.png");
    const { stdout } = await runChromium([
      "--dump-dom",
      `--screenshot=${png}`,
      `--window-size=${size.width},${size.height}`,
      pathToFileURL(htmlPath).href,
    ], limitMs);
    return { dom: stdout, png: new Uint8Array(readFileSync(png)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runChromium(
  args: readonly string[],
  limitMs: number,
): Promise<{ stdout: string; stderr: string }> {
  const binary = chromiumPath();
  if (binary === undefined) {
    throw new Error("Chromium not found: install the chromium package or set CHROMIUM");
  }
  const profile = mkdtempSync(join(tmpdir(), "report-chromium-"));
  try {
    return await new Promise((resolve, reject) => {
      // Its own process group, so a time limit can end the browser and every helper process it started.
      const child = spawn(binary, [...FLAGS, `--user-data-dir=${profile}`, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }, limitMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        if (timedOut) reject(new Error(`Chromium did not finish within ${limitMs} ms`));
        else if (code !== 0) reject(new Error(`Chromium exited with code ${code}: ${stderr.slice(-2000)}`));
        else resolve({ stdout, stderr });
      });
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
