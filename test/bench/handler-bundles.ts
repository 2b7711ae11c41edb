/**
 * Handler bundle size and cold-start module initialisation time, measured the way Lambda loads them,
 * against an empty handler bundled the same way. Run:
 *   npx tsx test/bench/handler-bundles.ts [--runs 5]
 *
 * Each handler in functions/ is bundled with esbuild (ESM, node24, minified, `ssh2` left external as
 * sst.config.ts installs it) into `functions/` of a temporary package that also holds what
 * sst.config.ts copies beside the code (`BUNDLE_COPY_FILES`: the training templates, read at init) and
 * whose `node_modules` links to the repository's (so the external resolves), then imported in a fresh Node process that reports how long the import
 * took. Rounds are interleaved (every handler and the empty one once per round), so load drifting on
 * the machine touches them alike; each figure is the median of `--runs` rounds. `runHandlerBundles`
 * is the same thing as a function.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { BUNDLE_COPY_FILES } from "../../packages/core/src/deployment";
import { type BenchLog, Flags, isMain, median, round, stderrLog } from "./common";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

export interface HandlerBundlesOptions {
  /** Interleaved rounds; each handler is imported once per round in a fresh process. */
  runs: number;
  log: BenchLog;
}

export const DEFAULT_HANDLER_BUNDLES_OPTIONS: HandlerBundlesOptions = { runs: 5, log: stderrLog };

export interface HandlerBundle {
  /** `functions/<name>.ts`, or `(empty)` for the baseline. */
  name: string;
  bytes: number;
  initMsRuns: number[];
  initMsMedian: number;
  /** Median init time minus the empty handler's. */
  initMsOverEmpty: number;
}

export interface HandlerBundlesResult {
  node: string;
  runs: number;
  empty: HandlerBundle;
  handlers: HandlerBundle[];
}

const EMPTY_HANDLER = "export const handler = async () => ({ statusCode: 200 });\n";

export async function runHandlerBundles(
  overrides: Partial<HandlerBundlesOptions> = {},
): Promise<HandlerBundlesResult> {
  const options = { ...DEFAULT_HANDLER_BUNDLES_OPTIONS, ...overrides };
  const names = (await readdir(join(root, "functions"))).filter((f) => f.endsWith(".ts")).sort();
  const out = await mkdtemp(join(tmpdir(), "bench-bundles-"));
  try {
    await symlink(join(root, "node_modules"), join(out, "node_modules"), "dir");
    for (const { from, to } of BUNDLE_COPY_FILES)
      await cp(join(root, from), join(out, to), { recursive: true });
    await mkdir(join(out, "functions"));
    const emptySource = join(out, "empty-handler.ts");
    await writeFile(emptySource, EMPTY_HANDLER);
    const entries = [
      { name: "(empty)", source: emptySource },
      ...names.map((file) => ({ name: file, source: join(root, "functions", file) })),
    ];
    const bundles: { name: string; file: string; bytes: number; times: number[] }[] = [];
    for (const entry of entries) {
      const file = join(out, "functions", `${basename(entry.source, ".ts")}.mjs`);
      await build({
        entryPoints: [entry.source],
        outfile: file,
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
      bundles.push({ name: entry.name, file, bytes: (await stat(file)).size, times: [] });
    }
    for (let r = 0; r < options.runs; r++) {
      for (let i = 0; i < bundles.length; i++) {
        const bundle = bundles[(i + r) % bundles.length]!;
        const script = `const t=performance.now();await import(${JSON.stringify(bundle.file)});console.log(performance.now()-t)`;
        const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: out });
        bundle.times.push(round(Number(stdout.trim()), 1));
      }
      options.log(`bundles round ${r + 1}/${options.runs}`);
    }
    const emptyMedian = median(bundles[0]!.times);
    const toResult = (b: (typeof bundles)[number]): HandlerBundle => ({
      name: b.name,
      bytes: b.bytes,
      initMsRuns: b.times,
      initMsMedian: round(median(b.times), 1),
      initMsOverEmpty: round(median(b.times) - emptyMedian, 1),
    });
    return {
      node: process.version,
      runs: options.runs,
      empty: toResult(bundles[0]!),
      handlers: bundles.slice(1).map(toResult),
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export function formatHandlerBundles(result: HandlerBundlesResult): string {
  const rows = [result.empty, ...result.handlers].map(
    (b) =>
      `| ${b.name} | ${(b.bytes / 1024).toFixed(0)} KiB | ${b.initMsMedian.toFixed(0)} ms | ${b.name === "(empty)" ? "-" : `+${b.initMsOverEmpty.toFixed(0)} ms`} |`,
  );
  return [
    `Cold module init (median of ${result.runs} fresh processes each), Node ${result.node}`,
    "| handler | bundle | init | over the empty handler |",
    "| --- | ---: | ---: | ---: |",
    ...rows,
  ].join("\n");
}

if (isMain(import.meta.url)) {
  const flags = new Flags(process.argv.slice(2), { values: ["runs"] });
  const result = await runHandlerBundles({
    runs: flags.number("runs") ?? DEFAULT_HANDLER_BUNDLES_OPTIONS.runs,
  });
  console.log(formatHandlerBundles(result));
  console.log(JSON.stringify(result, null, 2));
}
