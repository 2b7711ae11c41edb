/**
 * The function processes run from one esbuild bundle, laid out as a deployed function's package is
 * (`functions/<name>.mjs`, with what `sst.config.ts` copies beside it): a restart after a crash then
 * costs a Node start and a module load (about half a second of CPU here), not a TypeScript compile of
 * the whole codebase (three to four seconds), which matters when a run restarts processes dozens of
 * times on two cores.
 */
import { existsSync } from "node:fs";
import { cp, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";

const ROOT = join(import.meta.dirname, "..", "..");

/** Folders a deployed function carries beside its code, where the repository has them. */
const PACKAGE_FILES = [{ from: join(ROOT, "packages", "core", "configs"), to: "configs" }];

/** Bundles `function-process.ts` into `dir/functions/`; returns the file to fork. */
export async function bundleFunctionProcess(dir: string): Promise<string> {
  await mkdir(join(dir, "functions"), { recursive: true });
  const outfile = join(dir, "functions", "function-process.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "function-process.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    // ssh2's optional native speed-up; it falls back to JavaScript without it.
    external: ["cpu-features"],
    // ssh2's native crypto binding, where the install built it: copied beside the bundle, its require
    // rewritten to the copy (a deployed function gets ssh2 installed whole instead).
    loader: { ".node": "copy" },
    // CommonJS dependencies bundled into ESM still ask for these.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); const __dirname = import.meta.dirname; const __filename = import.meta.filename;",
    },
    logLevel: "error",
  });
  for (const { from, to } of PACKAGE_FILES) {
    if (existsSync(from)) await cp(from, join(dir, to), { recursive: true });
  }
  return outfile;
}
