/**
 * `npm start`'s options: every flag and environment variable reaches its field, the defaults the
 * help prints are the defaults parsing applies, and every bad input is a `UsageError` whose message
 * names what was wrong (the CLI prints it as its one line).
 */
import { describe, expect, it } from "vitest";
import { type CliOptions, ENVIRONMENT, HELP, parseCliOptions, UsageError } from "../src/cli-options";

const DEFAULTS: CliOptions = {
  help: false,
  sample: true,
  pollIntervalSeconds: 10,
  live: false,
  yes: false,
  budgetUsd: null,
  maxHourlyUsd: 1,
  gpuType: "RTX 4090",
  template: null,
  steps: null,
  vastBaseUrl: null,
  trainingSeconds: 30,
  bootSeconds: 25,
  exitWhenDone: false,
  ports: { api: 8787, vast: 8788, aws: 8789, dynamodb: 8790, events: 8791 },
  apiKey: null,
  vastApiKey: null,
  hfToken: null,
  stateDir: ".local",
  logLevel: "ERROR",
};

/** The UsageError `parseCliOptions` throws, or a failure if it throws something else or nothing. */
function usageError(argv: string[], env: Record<string, string | undefined> = {}): string {
  try {
    parseCliOptions(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error(`parseCliOptions(${JSON.stringify(argv)}) accepted what it should refuse`);
}

describe("npm start's options", () => {
  it("with no flags and no environment, takes the defaults", () => {
    expect(parseCliOptions([], {})).toEqual(DEFAULTS);
  });

  it("reads every flag", () => {
    const options = parseCliOptions(
      [
        "--poll-interval",
        "2",
        "--training-seconds",
        "3",
        "--boot-seconds",
        "4.5",
        "--exit-when-done",
        "--gpu",
        "RTX 3090",
        "--max-hourly",
        "0.75",
        "--budget",
        "2.5",
        "--live",
        "--yes",
        "--template",
        "flux-lora-low-vram",
        "--steps",
        "120",
      ],
      { VASTAI_API_KEY: "vast-key", VASTAI_BASE_URL: "http://127.0.0.1:9", HF_TOKEN: "hf_token_1" },
    );
    expect(options).toEqual({
      ...DEFAULTS,
      pollIntervalSeconds: 2,
      trainingSeconds: 3,
      bootSeconds: 4.5,
      exitWhenDone: true,
      gpuType: "RTX 3090",
      maxHourlyUsd: 0.75,
      budgetUsd: 2.5,
      live: true,
      yes: true,
      template: "flux-lora-low-vram",
      steps: 120,
      vastBaseUrl: "http://127.0.0.1:9",
      hfToken: "hf_token_1",
      vastApiKey: "vast-key",
    });
    expect(parseCliOptions(["--no-sample"], {}).sample).toBe(false);
    expect(parseCliOptions(["--help"], {}).help).toBe(true);
    expect(parseCliOptions(["-h"], {}).help).toBe(true);
    // parseArgs' `--name=value` form works too.
    expect(parseCliOptions(["--poll-interval=7"], {}).pollIntervalSeconds).toBe(7);
  });

  it("reads ports, keys, the state folder and the log level from the environment", () => {
    const options = parseCliOptions([], {
      PORT: "9001",
      VAST_SIM_PORT: "9002",
      AWS_PORT: "9003",
      DYNAMODB_PORT: "9004",
      EVENTS_PORT: "0",
      LOCAL_API_KEY: "  my-local-key  ",
      LOCAL_STATE_DIR: "/tmp/somewhere",
      LOG_LEVEL: "debug",
      VASTAI_API_KEY: " vast-key\n",
    });
    expect(options.ports).toEqual({ api: 9001, vast: 9002, aws: 9003, dynamodb: 9004, events: 0 });
    expect(options.apiKey).toBe("my-local-key");
    expect(options.vastApiKey).toBe("vast-key");
    expect(options.stateDir).toBe("/tmp/somewhere");
    expect(options.logLevel).toBe("DEBUG");
  });

  it("treats empty and blank environment values as unset", () => {
    const options = parseCliOptions([], {
      PORT: "",
      LOCAL_API_KEY: "   ",
      LOCAL_STATE_DIR: " ",
      VASTAI_API_KEY: "",
    });
    expect(options).toEqual(DEFAULTS);
  });

  it("prints in its help the defaults parsing applies", () => {
    const DEFAULTS = parseCliOptions([], {});
    // Flags: each default the help states is the parsed default.
    expect(HELP).toContain(
      `--poll-interval <s>     seconds between poller runs (default ${DEFAULTS.pollIntervalSeconds})`,
    );
    expect(HELP).toContain(`(default ${DEFAULTS.trainingSeconds})`);
    expect(HELP).toContain(`(default ${DEFAULTS.bootSeconds}, as on Vast)`);
    expect(HELP).toContain(`(default "${DEFAULTS.gpuType}")`);
    expect(HELP).toContain(`price cap per hour (default ${DEFAULTS.maxHourlyUsd})`);
    expect(HELP).toContain("(default 5; required with --live)");
    for (const flag of [
      "--no-sample",
      "--poll-interval",
      "--training-seconds",
      "--boot-seconds",
      "--exit-when-done",
      "--gpu",
      "--max-hourly",
      "--budget",
      "--live",
      "--yes",
      "--help",
    ]) {
      expect(HELP, flag).toContain(flag);
    }
    // Environment: every variable with its default, and each port default is the parsed one.
    const ports: Record<string, number> = {
      PORT: DEFAULTS.ports.api,
      VAST_SIM_PORT: DEFAULTS.ports.vast,
      AWS_PORT: DEFAULTS.ports.aws,
      DYNAMODB_PORT: DEFAULTS.ports.dynamodb,
      EVENTS_PORT: DEFAULTS.ports.events,
    };
    for (const [name, fallback, what] of ENVIRONMENT) {
      const line = HELP.split("\n").find((l) => l.trimStart().startsWith(`${name} `));
      expect(line?.trim().replace(/ +/, " "), name).toBe(`${name} ${what} (${fallback})`);
      if (name in ports) expect(Number(fallback), name).toBe(ports[name]);
    }
    expect(ENVIRONMENT.map(([name]) => name)).toEqual([
      "PORT",
      "VAST_SIM_PORT",
      "AWS_PORT",
      "DYNAMODB_PORT",
      "EVENTS_PORT",
      "LOCAL_API_KEY",
      "LOCAL_STATE_DIR",
      "LOG_LEVEL",
      "VASTAI_API_KEY",
      "VASTAI_BASE_URL",
      "HF_TOKEN",
    ]);
    expect(ENVIRONMENT.find(([name]) => name === "LOCAL_STATE_DIR")?.[1]).toBe(DEFAULTS.stateDir);
    expect(ENVIRONMENT.find(([name]) => name === "LOG_LEVEL")?.[1]).toBe(DEFAULTS.logLevel);
  });

  it("refuses unknown flags, missing values and positional arguments", () => {
    expect(usageError(["--bogus"])).toBe("Unknown option '--bogus'");
    expect(usageError(["-x"])).toBe("Unknown option '-x'");
    expect(usageError(["--poll-interval"])).toBe("Option '--poll-interval <value>' argument missing");
    expect(usageError(["--live=yes"], { VASTAI_API_KEY: "k" })).toBe(
      "Option '--live' does not take an argument",
    );
    expect(usageError(["sample"])).toMatch(/^Unexpected argument 'sample'/);
  });

  it("refuses a number that is not one, or below its minimum, naming the flag and the value", () => {
    expect(usageError(["--poll-interval", "soon"])).toBe('--poll-interval must be a number ≥ 1, not "soon"');
    expect(usageError(["--poll-interval", "0.5"])).toBe('--poll-interval must be a number ≥ 1, not "0.5"');
    expect(usageError(["--training-seconds", "0"])).toBe('--training-seconds must be a number ≥ 1, not "0"');
    expect(usageError(["--boot-seconds=-3"])).toBe('--boot-seconds must be a number ≥ 1, not "-3"');
    expect(usageError(["--max-hourly", "0"])).toBe('--max-hourly must be a number ≥ 0.01, not "0"');
    expect(usageError(["--steps", "12.5"])).toBe('--steps must be a whole number, not "12.5"');
    expect(usageError(["--steps", "0"])).toBe('--steps must be a number ≥ 1, not "0"');
    expect(usageError(["--budget", "free"])).toBe('--budget must be a number ≥ 0.01, not "free"');
    expect(usageError(["--budget", "Infinity"])).toBe('--budget must be a number ≥ 0.01, not "Infinity"');
  });

  it("refuses a port that is not one, naming its variable", () => {
    expect(usageError([], { PORT: "http" })).toBe('PORT must be a number ≥ 0, not "http"');
    expect(usageError([], { VAST_SIM_PORT: "-1" })).toBe('VAST_SIM_PORT must be a number ≥ 0, not "-1"');
    expect(usageError([], { AWS_PORT: "70000" })).toBe("AWS_PORT must be a port (0–65535)");
    expect(usageError([], { DYNAMODB_PORT: "80.5" })).toBe("DYNAMODB_PORT must be a port (0–65535)");
    expect(usageError([], { EVENTS_PORT: "65536" })).toBe("EVENTS_PORT must be a port (0–65535)");
  });

  it("refuses --live without a Vast.ai key, and without a budget for the sample job", () => {
    expect(usageError(["--live", "--budget", "3"])).toBe(
      "--live needs your Vast.ai API key in VASTAI_API_KEY",
    );
    expect(usageError(["--live", "--budget", "3"], { VASTAI_API_KEY: "   " })).toBe(
      "--live needs your Vast.ai API key in VASTAI_API_KEY",
    );
    expect(usageError(["--live"], { VASTAI_API_KEY: "k" })).toBe(
      "--live rents real GPUs: give the sample job a budget with --budget <usd>",
    );
    // A price cap alone is not a budget.
    expect(usageError(["--live", "--max-hourly", "0.5"], { VASTAI_API_KEY: "k" })).toBe(
      "--live rents real GPUs: give the sample job a budget with --budget <usd>",
    );
    // Without the sample job nothing is rented up front, so no budget is needed.
    expect(parseCliOptions(["--live", "--no-sample"], { VASTAI_API_KEY: "k" })).toMatchObject({
      live: true,
      sample: false,
      budgetUsd: null,
    });
    // With a budget, the price cap keeps its default.
    expect(usageError(["--live", "--budget", "3"], { VASTAI_API_KEY: "k" })).toBe(
      "--live trains FLUX.1-dev, a gated model: put a Hugging Face token that accepted its licence in HF_TOKEN",
    );
    expect(
      parseCliOptions(["--live", "--budget", "3"], { VASTAI_API_KEY: "k", HF_TOKEN: "hf_1" }),
    ).toMatchObject({
      live: true,
      budgetUsd: 3,
      maxHourlyUsd: 1,
    });
  });

  it("refuses --exit-when-done with --no-sample: there would be nothing to wait for", () => {
    expect(usageError(["--exit-when-done", "--no-sample"])).toBe(
      "--exit-when-done waits for the sample job, which --no-sample leaves out",
    );
  });
});
