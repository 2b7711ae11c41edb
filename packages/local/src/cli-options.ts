/**
 * `npm start`'s options: flags for what to do, environment variables for where (ports, the API
 * key), each with a default the help prints. Parsing never starts anything: a bad value is a
 * `UsageError` naming it.
 */
import { parseArgs } from "node:util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface CliOptions {
  help: boolean;
  /** Submit and follow the sample job (default), or only bring the stack up. */
  sample: boolean;
  pollIntervalSeconds: number;
  /** Drive real Vast.ai instead of the simulator. */
  live: boolean;
  /** With `--live`: rent without asking. */
  yes: boolean;
  /** The sample job's budget; required with `--live`. */
  budgetUsd: number | null;
  maxHourlyUsd: number;
  gpuType: string;
  /** The sample job's training template; null: the API's default. */
  template: string | null;
  /** The sample job's training steps; null: the template's default. */
  steps: number | null;
  /** With `--live`: Vast's API base URL (a Vast-compatible API such as the simulator, in tests). */
  vastBaseUrl: string | null;
  /** Simulated training length (simulator only). */
  trainingSeconds: number;
  /** Simulated boot: seconds provisioning, then loading the image (simulator only). */
  bootSeconds: number;
  /** Exit once the sample job has ended (0 if it succeeded) instead of serving on. */
  exitWhenDone: boolean;
  ports: { api: number; vast: number; aws: number; dynamodb: number; events: number };
  apiKey: string | null;
  vastApiKey: string | null;
  /** HF_TOKEN: with --live, the token the instance downloads FLUX.1-dev (gated) with. */
  hfToken: string | null;
  /** Where stack.json and the lock live. */
  stateDir: string;
  logLevel: string;
}

/** The environment variables `npm start` reads, with their defaults (printed by --help). */
export const ENVIRONMENT = [
  ["PORT", "8787", "the HTTP API"],
  ["VAST_SIM_PORT", "8788", "the Vast simulator"],
  ["AWS_PORT", "8789", "SQS and S3 (fauxqs)"],
  ["DYNAMODB_PORT", "8790", "DynamoDB Local"],
  ["EVENTS_PORT", "8791", "the event bus (EventBridge PutEvents)"],
  ["LOCAL_API_KEY", "random, printed", "the API key the local API accepts"],
  ["LOCAL_STATE_DIR", ".local", "where stack.json is written"],
  ["LOG_LEVEL", "ERROR", "the functions' log level (DEBUG, INFO, WARN, ERROR, SILENT)"],
  ["VASTAI_API_KEY", "unset", "your Vast.ai key, used only with --live"],
  ["VASTAI_BASE_URL", "https://console.vast.ai", "Vast's API, used only with --live"],
  ["HF_TOKEN", "unset", "your Hugging Face token (FLUX.1-dev is gated), used only with --live"],
] as const;

export const HELP = `npm start [-- options]   the whole system on this machine, and a sample job through it

Options:
  --no-sample             bring the stack up only (no sample job)
  --poll-interval <s>     seconds between poller runs (default 10)
  --training-seconds <s>  how long simulated training takes (default 30)
  --boot-seconds <s>      how long a simulated instance takes to boot (default 25, as on Vast)
  --exit-when-done        exit when the sample job ends (status 0 if it succeeded): for scripts and CI
  --gpu <name>            the sample job's GPU (default "RTX 4090")
  --max-hourly <usd>      the sample job's price cap per hour (default 1)
  --budget <usd>          the sample job's budget (default 5; required with --live)
  --template <name>       the sample job's training template (default: the API's, flux-lora-24gb)
  --steps <n>             the sample job's training steps (default: the template's)
  --live                  rent on real Vast.ai with VASTAI_API_KEY instead of the simulator
  --yes                   with --live: do not ask before renting
  -h, --help              this text

Environment (default):
${ENVIRONMENT.map(([name, value, what]) => `  ${name.padEnd(16)} ${what} (${value})`).join("\n")}`;

function number(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min)
    throw new UsageError(`${name} must be a number ≥ ${min}, not "${text}"`);
  return value;
}

function integer(name: string, text: string, min: number): number {
  const value = number(name, text, min, min);
  if (!Number.isInteger(value)) throw new UsageError(`${name} must be a whole number, not "${text}"`);
  return value;
}

function port(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const value = number(name, env[name], fallback, 0);
  if (!Number.isInteger(value) || value > 65_535) throw new UsageError(`${name} must be a port (0–65535)`);
  return value;
}

export function parseCliOptions(argv: string[], env: Record<string, string | undefined>): CliOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  const live = values.live ?? false;
  const budgetUsd = values.budget === undefined ? null : number("--budget", values.budget, 0, 0.01);
  const vastApiKey = env.VASTAI_API_KEY?.trim() || null;
  if (live && !vastApiKey) throw new UsageError("--live needs your Vast.ai API key in VASTAI_API_KEY");
  if (values["exit-when-done"] && values["no-sample"]) {
    throw new UsageError("--exit-when-done waits for the sample job, which --no-sample leaves out");
  }
  if (live && budgetUsd === null && !values["no-sample"]) {
    throw new UsageError("--live rents real GPUs: give the sample job a budget with --budget <usd>");
  }
  const hfToken = env.HF_TOKEN?.trim() || null;
  if (live && !hfToken && !values["no-sample"]) {
    throw new UsageError(
      "--live trains FLUX.1-dev, a gated model: put a Hugging Face token that accepted its licence in HF_TOKEN",
    );
  }
  return {
    help: values.help ?? false,
    sample: !(values["no-sample"] ?? false),
    pollIntervalSeconds: number("--poll-interval", values["poll-interval"], 10, 1),
    live,
    yes: values.yes ?? false,
    budgetUsd,
    maxHourlyUsd: number("--max-hourly", values["max-hourly"], 1, 0.01),
    gpuType: values.gpu ?? "RTX 4090",
    template: values.template?.trim() || null,
    steps: values.steps === undefined ? null : integer("--steps", values.steps, 1),
    vastBaseUrl: env.VASTAI_BASE_URL?.trim() || null,
    trainingSeconds: number("--training-seconds", values["training-seconds"], 30, 1),
    bootSeconds: number("--boot-seconds", values["boot-seconds"], 25, 1),
    exitWhenDone: values["exit-when-done"] ?? false,
    ports: {
      api: port(env, "PORT", 8787),
      vast: port(env, "VAST_SIM_PORT", 8788),
      aws: port(env, "AWS_PORT", 8789),
      dynamodb: port(env, "DYNAMODB_PORT", 8790),
      events: port(env, "EVENTS_PORT", 8791),
    },
    apiKey: env.LOCAL_API_KEY?.trim() || null,
    vastApiKey,
    hfToken,
    stateDir: env.LOCAL_STATE_DIR?.trim() || ".local",
    logLevel: (env.LOG_LEVEL ?? "ERROR").toUpperCase(),
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      "no-sample": { type: "boolean" },
      "poll-interval": { type: "string" },
      "training-seconds": { type: "string" },
      "boot-seconds": { type: "string" },
      "exit-when-done": { type: "boolean" },
      gpu: { type: "string" },
      "max-hourly": { type: "string" },
      budget: { type: "string" },
      template: { type: "string" },
      steps: { type: "string" },
      live: { type: "boolean" },
      yes: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
