/**
 * Handler bundle size and cold-start module init time, measured the way Lambda loads them:
 * each handler in functions/ is bundled with esbuild (ESM, node24, minified, `ssh2` left external
 * as sst.config.ts installs it) into `functions/` of a package that also holds what sst.config.ts
 * copies (`BUNDLE_COPY_FILES`: the training templates, loaded at init), then imported in a fresh Node
 * process that reports how long the import took. Run: `npm exec -- tsx test/bench/handler-bundles.ts`.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { build } from "esbuild";
import { BUNDLE_COPY_FILES } from "../../packages/core/src/deployment";

const root = join(import.meta.dirname, "..", "..");
const handlers = readdirSync(join(root, "functions")).filter((f) => f.endsWith(".ts"));
// Inside the repository (ignored by git) so the external `ssh2` resolves from node_modules.
mkdirSync(join(root, ".tmp"), { recursive: true });
const out = mkdtempSync(join(root, ".tmp", "bundles-"));
const RUNS = 5;

try {
  for (const { from, to } of BUNDLE_COPY_FILES) cpSync(join(root, from), join(out, to), { recursive: true });
  const rows: string[] = [];
  for (const file of handlers) {
    const outfile = join(out, "functions", `${basename(file, ".ts")}.mjs`);
    await build({
      entryPoints: [join(root, "functions", file)],
      outfile,
      bundle: true,
      minify: true,
      platform: "node",
      target: "node24",
      format: "esm",
      external: ["ssh2", "cpu-features"],
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: "error",
    });
    const kb = statSync(outfile).size / 1024;
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const script = `const t=performance.now();await import(${JSON.stringify(outfile)});console.log(performance.now()-t)`;
      const ms = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: root,
        encoding: "utf8",
      });
      times.push(Number(ms.trim()));
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
    rows.push(
      `${file.padEnd(22)} ${kb.toFixed(0).padStart(6)} KiB   init median ${median.toFixed(0)} ms (${RUNS} runs)`,
    );
  }
  console.log(rows.join("\n"));
} finally {
  rmSync(out, { recursive: true, force: true });
}
