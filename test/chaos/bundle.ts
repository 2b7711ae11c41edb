/**
 * The function processes run from one esbuild bundle, as deployed handlers do: a restart after a
 * crash then costs a Node start and a module load (about half a second of CPU here), not a
 * TypeScript compile of the whole codebase (three to four seconds), which matters when a run
 * restarts processes a hundred times on two cores.
 */
import { join } from "node:path";
import { build } from "esbuild";

/** Bundles `function-process.ts` into `dir`; returns the file to fork. */
export async function bundleFunctionProcess(dir: string): Promise<string> {
  const outfile = join(dir, "function-process.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "function-process.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    // ssh2's optional native speed-up; it falls back to JavaScript without it.
    external: ["cpu-features"],
    // CommonJS dependencies bundled into ESM still ask for these.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); const __dirname = import.meta.dirname; const __filename = import.meta.filename;",
    },
    logLevel: "error",
  });
  return outfile;
}
