/**
 * One function process of the chaos run, forked (as an esbuild bundle, like a deployed handler) by
 * the supervisor: a `provision` or `push` queue consumer, or a poller on the compressed schedule.
 * It builds the handlers exactly as the local stack does — from the stack's environment, reaching
 * DynamoDB Local, fauxqs and the simulator over the network — with three differences that are the
 * chaos: its dependencies may SIGKILL the process just before or after a side effect (crash.ts); its
 * queue worker delivers some messages twice (`duplicates`); and an invocation that outlives the
 * function's timeout kills the process, as Lambda stops one. Everything it does that the run counts
 * (start, crash, timeout, duplicate) is appended synchronously to the run's event log, so a line is
 * on disk before the process dies. The configuration, secrets included, arrives over IPC, never in
 * the environment or argv.
 */
import { openSync } from "node:fs";
import { SQSClient } from "@aws-sdk/client-sqs";
import {
  createJobDependencies,
  type DeploymentSettings,
  type JobDependencies,
  type JobDependencyOptions,
  type JobSettingsOverrides,
  type Logger,
  type SshConnector,
} from "@vast-rental/core";
import { createPollerHandler } from "../../functions/poller";
import { createProvisionHandler } from "../../functions/provision";
import { createPushHandler } from "../../functions/push-dataset";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../packages/local/src/aws-identity";
import type { LocalQueue } from "../../packages/local/src/fauxqs";
import { localFunctions } from "../../packages/local/src/functions";
import { startPollerTimer } from "../../packages/local/src/poller-timer";
import { startQueueWorker } from "../../packages/local/src/queue-worker";
import { mergeSettingsOverrides } from "../../packages/local/src/settings-overrides";
import { createRng } from "../../packages/vast-sim/src/random";
import { appendLineSync, type CrashInjector, crashable, crashInjector } from "./crash";

export type FunctionRole = "provision" | "push" | "poller";

export interface FunctionProcessConfig {
  /** e.g. `push-2`. */
  name: string;
  role: FunctionRole;
  /** This start of the slot (0 first), for the log. */
  incarnation: number;
  /** When the supervisor forked this process (the log shows how long starting took). */
  forkedAt: number;
  /** Seeds this incarnation's crash and duplicate choices. */
  seed: number;
  /** The local stack's environment (secrets included). */
  environment: Record<string, string>;
  deployment: DeploymentSettings;
  settings: JobSettingsOverrides;
  /** Minimum ms between calls per Vast endpoint, compressed like the rest. */
  vastRateLimits: JobDependencyOptions["vastRateLimits"];
  /** The queue this process consumes (queue roles). */
  queue: LocalQueue | null;
  /** Probability that an invocation crashes, at one of its side-effect points (crash.ts). */
  crashProbability: number;
  /** From this moment (epoch ms) no invocation crashes; null: crashes go on. Also sent later as a `CalmMessage`. */
  calmAt: number | null;
  duplicates: { probability: number; maxDelaySeconds: number };
  /** Poller role: its schedule, and how long to wait before the first run (two pollers overlap). */
  pollIntervalMs: number;
  pollerPhaseMs: number;
  /** Queue roles: long-poll wait in seconds. */
  receiveWaitSeconds: number;
  /** The run's event log (JSON lines, appended). */
  eventsFile: string;
}

/** Sent by the supervisor to a running process when the run's fault window closes. */
export interface CalmMessage {
  calmAt: number;
}

/** A line of the event log. */
export type FunctionProcessEvent =
  | {
      kind: "started";
      name: string;
      role: FunctionRole;
      incarnation: number;
      pid: number;
      forkedAt: number;
      at: number;
    }
  | { kind: "crash"; name: string; role: FunctionRole; point: string; pid: number; at: number }
  | { kind: "timeout"; name: string; role: FunctionRole; pid: number; at: number }
  | { kind: "duplicate"; name: string; role: FunctionRole; messageId: string; at: number };

/** Warnings and errors to stderr (the supervisor keeps them in the run's folder). */
const stderrLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message, attributes) =>
    process.stderr.write(`WARN ${message} ${JSON.stringify(attributes ?? {})}\n`),
  error: (message, attributes) =>
    process.stderr.write(`ERROR ${message} ${JSON.stringify(attributes ?? {})}\n`),
};

/** Every side-effecting dependency wrapped in crash points. */
function crashableDeps(deps: JobDependencies, injector: CrashInjector): JobDependencies {
  const ssh: SshConnector = async (target, options) =>
    crashable(await deps.ssh(target, options), "ssh", injector, (m) =>
      ["exec", "execStream", "sftpUpload"].includes(m),
    );
  return {
    ...deps,
    store: crashable(deps.store, "store", injector),
    vast: crashable(deps.vast, "vast", injector),
    queue: crashable(deps.queue, "queue", injector),
    events: crashable(deps.events, "events", injector),
    ssh,
  };
}

async function run(config: FunctionProcessConfig): Promise<void> {
  const fd = openSync(config.eventsFile, "a");
  const log = (event: FunctionProcessEvent) => appendLineSync(fd, event);
  const base = { name: config.name, role: config.role };
  const rng = createRng(config.seed);
  const duplicateRng = createRng(config.seed ^ 0x5bd1e995);
  let calmAt = config.calmAt;
  process.on("message", (message: unknown) => {
    if (message && typeof message === "object" && "calmAt" in message)
      calmAt = (message as CalmMessage).calmAt;
  });
  const injector = crashInjector({
    probability: config.crashProbability,
    calmAt: () => calmAt,
    random: rng.next,
    record: (point) => log({ kind: "crash", ...base, point, pid: process.pid, at: Date.now() }),
  });
  /** Lambda stops an invocation at its timeout: the whole container goes, like a crash. */
  const timedOut = () => {
    log({ kind: "timeout", ...base, pid: process.pid, at: Date.now() });
    process.kill(process.pid, "SIGKILL");
  };

  const built = await createJobDependencies(config.environment, { vastRateLimits: config.vastRateLimits });
  const deps = crashableDeps(
    { ...built, settings: mergeSettingsOverrides(built.settings, config.settings) },
    injector,
  );
  log({
    kind: "started",
    ...base,
    incarnation: config.incarnation,
    pid: process.pid,
    forkedAt: config.forkedAt,
    at: Date.now(),
  });

  if (config.role === "poller") {
    const poller = createPollerHandler(deps);
    const timeoutMs = config.deployment.poller.timeoutSeconds * 1000;
    await new Promise((resolve) => setTimeout(resolve, config.pollerPhaseMs));
    startPollerTimer({
      intervalMs: config.pollIntervalMs,
      run: async () => {
        injector.arm();
        const timer = setTimeout(timedOut, timeoutMs);
        try {
          await poller({ trigger: "schedule" });
        } finally {
          clearTimeout(timer);
        }
      },
      logger: stderrLogger,
    });
    return;
  }

  if (!config.queue) throw new Error(`${config.name}: no queue to consume`);
  const consume =
    config.role === "provision"
      ? createProvisionHandler(deps, config.deployment.provision)
      : createPushHandler(deps, config.deployment.push);
  const handler: typeof consume = (event, context) => {
    injector.arm();
    return consume(event, context);
  };
  const client = new SQSClient({
    endpoint: config.environment.SQS_ENDPOINT,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  startQueueWorker({
    functionName: config.role,
    client,
    queue: config.queue,
    handler,
    ...localFunctions(config.deployment)[config.role].worker,
    waitSeconds: config.receiveWaitSeconds,
    duplicates: {
      ...config.duplicates,
      random: duplicateRng.next,
      onDuplicate: (messageId) => log({ kind: "duplicate", ...base, messageId, at: Date.now() }),
    },
    onInvocationTimeout: timedOut,
    logger: stderrLogger,
  });
}

process.once("message", (config: FunctionProcessConfig) => {
  run(config).catch((error: unknown) => {
    process.stderr.write(`function process ${config.name} could not start: ${String(error)}\n`);
    process.exit(70);
  });
});
