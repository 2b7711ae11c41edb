/**
 * `npm start`: brings the whole system up on this machine (DynamoDB Local, fauxqs, the Vast
 * simulator, the event bus, the HTTP API, the queue workers and the poller), writes its endpoints
 * to `.local/stack.json`, runs the sample job through it with a live status display, prints the
 * result and keeps serving until Ctrl-C. `--no-sample` only brings the stack up; `--live` drives
 * real Vast.ai (it shows the price and asks before renting, and refuses without a budget).
 */
import { createInterface } from "node:readline/promises";
import type { Logger, OfferSearchResult } from "@vast-rental/core";
import { type CliOptions, HELP, parseCliOptions, UsageError } from "./cli-options";
import { PortInUseError } from "./ports";
import type { ReleasedRentals } from "./release-rentals";
import { SAMPLE_DATASET, sampleJobRequest } from "./sample/job";
import { submitSigned, uploadSampleDataset } from "./sample/run";
import { type LocalStack, startLocalStack } from "./stack";
import { claimStateDir, StackAlreadyRunningError } from "./state-dir";
import { followJob } from "./status/follow";
import { bytes, usd } from "./status/format";
import { finalReport } from "./status/report";

const print = (line = "") => process.stdout.write(`${line}\n`);
const fail = (line: string, code = 1): never => {
  process.stderr.write(`${line}\n`);
  process.exit(code);
};

/** The stack's own messages: warnings and errors on stderr, the rest only when asked for. */
function consoleLogger(level: string): Logger {
  const verbose = level === "DEBUG" || level === "INFO";
  const write = (tag: string) => (message: string, extra?: unknown) =>
    process.stderr.write(`${tag} ${message}${extra === undefined ? "" : ` ${JSON.stringify(extra)}`}\n`);
  const quiet = () => {};
  const silent = level === "SILENT" || level === "ERROR";
  return {
    debug: verbose ? write("debug") : quiet,
    info: verbose ? write("info") : quiet,
    warn: silent ? quiet : write("warn"),
    error: level === "SILENT" ? quiet : write("error"),
  } as Logger;
}

async function cheapestOffer(stack: LocalStack, gpuType: string, maxHourlyUsd: number) {
  const query = new URLSearchParams({
    gpuType,
    maxHourlyUsd: String(maxHourlyUsd),
    region: "US",
    limit: "1",
  });
  const response = await fetch(`${stack.apiUrl}/v1/offers?${query}`, {
    headers: { authorization: `Bearer ${stack.apiKey}` },
  });
  if (!response.ok) throw new Error(`offer search answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as OfferSearchResult).offers[0] ?? null;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Runs the sample job; resolves with its final state (null when nothing was rented). */
async function runSample(
  stack: LocalStack,
  options: CliOptions,
  signal: AbortSignal,
): Promise<string | null> {
  const request = sampleJobRequest(
    {
      gpuType: options.gpuType,
      maxHourlyUsd: options.maxHourlyUsd,
      budgetUsd: options.budgetUsd ?? 5,
      idempotencyKey: `sample-${Date.now()}`,
    },
    {
      ...(options.template ? { template: options.template } : {}),
      ...(options.steps ? { steps: options.steps } : {}),
    },
  );
  if (options.live) {
    const offer = await cheapestOffer(stack, options.gpuType, options.maxHourlyUsd);
    if (!offer) {
      print(
        `No ${options.gpuType} in the US at most ${usd(options.maxHourlyUsd)}/h right now: nothing rented.`,
      );
      return null;
    }
    print(
      `Real Vast.ai: the sample job would rent a ${offer.gpuName} at ${usd(offer.hourlyUsd)}/h (offer ${offer.id}), budget ${usd(request.budgetUsd)}.`,
    );
    if (!options.yes && !(await confirm("Rent it? [y/N] "))) {
      print("Not renting. The stack keeps running.");
      return null;
    }
  }
  const uploaded = await uploadSampleDataset(stack.aws.s3, SAMPLE_DATASET);
  print(
    `Sample dataset: ${uploaded.files} files (${bytes(uploaded.bytes)}) in s3://${SAMPLE_DATASET.bucket}/${SAMPLE_DATASET.prefix}`,
  );
  const submitted = await submitSigned(stack.apiUrl, stack.submissionSecret, request);
  print(`Submitted ${submitted.jobId} as a signed webhook to POST /v1/jobs: FLUX LoRA on ${request.gpuType}`);
  print();
  const view = await followJob({
    apiUrl: stack.apiUrl,
    apiKey: stack.apiKey,
    jobId: submitted.jobId,
    out: process.stdout,
    signal,
  });
  print();
  for (const line of finalReport(view)) print(line);
  return view.state;
}

/** What stopping released; problems go to stderr, since an instance may still be billing. */
function reportReleased(released: ReleasedRentals): void {
  if (released.cancelledJobs.length > 0)
    print(`Cancelled ${released.cancelledJobs.length} running job(s): ${released.cancelledJobs.join(", ")}`);
  if (released.destroyedInstances.length > 0)
    print(`Destroyed instance(s) ${released.destroyedInstances.join(", ")}`);
  for (const problem of released.problems)
    process.stderr.write(`Could not release ${problem}: check your Vast account (vastai show instances)\n`);
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseCliOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message}\n(npm start -- --help lists the options)`, 2);
    throw error;
  }
  if (options.help) {
    print(HELP);
    return;
  }
  // The functions log through Powertools, which reads its level from the environment.
  process.env.POWERTOOLS_LOG_LEVEL ??= options.logLevel;
  const logger = consoleLogger(options.logLevel);

  let stateDir: Awaited<ReturnType<typeof claimStateDir>>;
  try {
    stateDir = await claimStateDir(options.stateDir);
  } catch (error) {
    if (error instanceof StackAlreadyRunningError) fail(error.message);
    throw error;
  }

  // One Ctrl-C can arrive several times (the terminal signals every process in the group, and
  // npm and tsx pass it on too): repeats within two seconds are the same request; a later one forces.
  // Handled from here on, so a Ctrl-C during start-up still releases the state folder and exits
  // through process.exit (whose hooks stop DynamoDB Local, which has its own process group).
  let stack: LocalStack | null = null;
  const stopping = new AbortController();
  let stoppingSince: number | null = null;
  const shutdown = async () => {
    if (stoppingSince !== null) {
      if (Date.now() - stoppingSince > 2000) process.exit(1);
      return;
    }
    stoppingSince = Date.now();
    // The sample run's follow ends quietly: the job's end is reported by the release below.
    stopping.abort();
    if (stack) {
      print("\nStopping: queue workers, poller, running jobs, API, simulator, fauxqs, DynamoDB Local…");
      reportReleased(await stack.stop());
    }
    await stateDir.release();
    process.exit(stack ? 0 : 130);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown());

  print(`Starting vast-rental locally (${options.live ? "real Vast.ai" : "the Vast simulator"})…`);
  try {
    stack = await startLocalStack({
      ports: options.ports,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      pollIntervalSeconds: options.pollIntervalSeconds,
      vast:
        options.live && options.vastApiKey
          ? {
              kind: "live",
              apiKey: options.vastApiKey,
              ...(options.vastBaseUrl ? { baseUrl: options.vastBaseUrl } : {}),
              ...(options.hfToken ? { hfToken: options.hfToken } : {}),
            }
          : {
              kind: "simulator",
              trainingSeconds: options.trainingSeconds,
              // Vast's own split of a boot: a fifth provisioning, the rest loading the image.
              provisioningSeconds: options.bootSeconds / 5,
              loadingSeconds: (options.bootSeconds * 4) / 5,
            },
      logger,
    });
  } catch (error) {
    await stateDir.release();
    if (error instanceof PortInUseError) fail(error.message);
    throw error;
  }

  await stateDir.writeStackFile({
    apiUrl: stack.apiUrl,
    apiKey: stack.apiKey,
    vastUrl: stack.vastUrl,
    vastKey: stack.vastKey,
  });
  print(`  API           ${stack.apiUrl}   docs ${stack.apiUrl}/docs`);
  print(`  API key       ${stack.apiKey}   (Authorization: Bearer …)`);
  print(
    stack.vastKey
      ? `  Vast (sim)    ${stack.vastUrl}   key ${stack.vastKey}   admin ${stack.vastUrl}/_sim/instances`
      : `  Vast          ${stack.vastUrl}   (your account)`,
  );
  print(`  SQS and S3    ${stack.aws.endpoint}`);
  print(`  DynamoDB      ${stack.dynamoEndpoint}   table ${stack.tableName}`);
  print(`  EventBridge   ${stack.bus.endpoint}   (PutEvents, e.g. aws events put-events --endpoint-url …)`);
  print(`  Poller        every ${options.pollIntervalSeconds} s`);
  print(`  Endpoints written to ${stateDir.stackFile}`);
  print();

  if (options.sample) {
    let outcome: string | null = null;
    try {
      outcome = await runSample(stack, options, stopping.signal);
    } catch (error) {
      if (!stopping.signal.aborted)
        process.stderr.write(
          `The sample run failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
    }
    // Stopping: shutdown reports and exits.
    if (stopping.signal.aborted) return;
    print();
    if (options.exitWhenDone) {
      reportReleased(await stack.stop());
      await stateDir.release();
      process.exit(outcome === "succeeded" ? 0 : 1);
    }
  }
  print(`The API keeps serving at ${stack.apiUrl} (docs ${stack.apiUrl}/docs). Ctrl-C stops everything.`);
}

await main();
