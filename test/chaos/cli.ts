/**
 * `npm run chaos [-- --jobs 200 --seed 1 --json chaos-results.json]`: the chaos run (run.ts) from
 * the command line. Prints progress and the report's table; writes the report as JSON (by default
 * `chaos-results.json` in the current folder); exits 1 when an invariant is violated, printing the
 * seed and the command that replays the run with every setting, and 2 on a bad flag (with the usage).
 */
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { formatReport } from "./report";
import { runChaos } from "./run";

export const DEFAULT_SEED = 1;
export const DEFAULT_JOBS = 200;
export const DEFAULT_JSON = "chaos-results.json";

const HELP = `npm run chaos -- [options]

  --jobs N              jobs to run (default ${DEFAULT_JOBS})
  --seed S              seed of every random choice (default ${DEFAULT_SEED})
  --json FILE           where the report is written as JSON (default ${DEFAULT_JSON})
  --max-active N        jobs in flight at once (default 40)
  --training-seconds S  simulated training length (default 20)
  --divisor D           time compression of the deployment's timeouts and leases (default 10)
  --fault-window S      stop the harness's crashes and kills S seconds after the processes are up
                        (default: they go on to the end)
  --keep                keep the run's folder (process logs, event log, snapshot) even if it passed
  --help`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, not ${value}`);
  return n;
}

/** A flag the run does not know, or a value it cannot use: the usage, and exit code 2. */
class UsageError extends Error {}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags();
  } catch (error) {
    console.error(`npm run chaos: ${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    return 2;
  }
  const { values, jobs, seed, maxActive, trainingSeconds, divisor, faultWindowSeconds } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const json = values.json ?? DEFAULT_JSON;
  const replay =
    `npm run chaos -- --jobs ${jobs} --seed ${seed} --max-active ${maxActive} ` +
    `--training-seconds ${trainingSeconds} --divisor ${divisor}` +
    (faultWindowSeconds === undefined ? "" : ` --fault-window ${faultWindowSeconds}`);
  const started = Date.now();
  const result = await runChaos({
    jobs,
    seed,
    maxActiveJobs: maxActive,
    trainingSeconds,
    divisor,
    faultWindowSeconds,
    progress: (line) => console.log(`chaos: ${line}`),
    keep: values.keep === true,
  });
  console.log("");
  console.log(formatReport(result.report));
  console.log(`\n(run took ${Math.round((Date.now() - started) / 1000)} s in all)`);
  await writeFile(json, `${JSON.stringify(result.report, null, 2)}\n`);
  console.log(`report written to ${json}`);
  if (result.violations.length > 0) {
    console.error(`\nchaos run FAILED with seed ${seed}: ${result.violations.length} invariant(s) violated.`);
    console.error(`replay: ${replay}`);
    if (result.workDir) console.error(`logs: ${result.workDir}`);
    return 1;
  }
  if (result.workDir) console.log(`kept: ${result.workDir}`);
  return 0;
}

function parseFlags() {
  const { values, positionals } = parseArgs({
    options: {
      jobs: { type: "string" },
      seed: { type: "string" },
      json: { type: "string" },
      "max-active": { type: "string" },
      "training-seconds": { type: "string" },
      divisor: { type: "string" },
      "fault-window": { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const divisor = positiveInt("divisor", values.divisor, 10);
  if (divisor < 1) throw new UsageError("--divisor must be at least 1");
  return {
    values,
    jobs: positiveInt("jobs", values.jobs, DEFAULT_JOBS),
    seed: positiveInt("seed", values.seed, DEFAULT_SEED),
    maxActive: positiveInt("max-active", values["max-active"], 40),
    trainingSeconds: positiveInt("training-seconds", values["training-seconds"], 20),
    divisor,
    faultWindowSeconds:
      values["fault-window"] === undefined
        ? undefined
        : positiveInt("fault-window", values["fault-window"], 0),
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `chaos run could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(2);
  },
);
