/**
 * The whole system on one machine: DynamoDB Local, fauxqs (SQS and S3), the Vast simulator (or
 * real Vast), the event bus, the HTTP API on a port, queue workers that feed the `provision` and
 * `push` functions, the poller on a timer and the events subscriber — every function the same
 * handler `sst.config.ts` deploys, built from the same environment variables.
 */
import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { serve } from "@hono/node-server";
import {
  type ApiApp,
  apiDependencies,
  COMMAND_DETAIL_TYPES,
  commandDeadLetters,
  createApiApp,
  createJobDependencies,
  createTable,
  DEPLOYMENT,
  type DeploymentSettings,
  EVENT_SOURCE,
  type JobDependencies,
  type JobDependencyOptions,
  type JobSettingsOverrides,
  type Logger,
} from "@vast-rental/core";
import {
  generateHostKey,
  type RandomFaultProfileInput,
  startVastSim,
  type VastSim,
} from "@vast-rental/vast-sim";
import { createEventsHandler } from "../../../functions/events";
import { createPollerHandler } from "../../../functions/poller";
import { createProvisionHandler } from "../../../functions/provision";
import { createPushHandler } from "../../../functions/push-dataset";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./aws-identity";
import { launchDynamoLocal } from "./dynamodb";
import { type BusEvent, type LocalEventBus, startLocalEventBus } from "./event-bus";
import { type LocalAws, startLocalAws } from "./fauxqs";
import { localFunctions } from "./functions";
import { startPollerTimer } from "./poller-timer";
import { assertPortFree } from "./ports";
import { type QueueWorker, startQueueWorker } from "./queue-worker";
import { type ReleasedRentals, releaseRentals } from "./release-rentals";
import { mergeSettingsOverrides } from "./settings-overrides";

/** Where each service listens; 0 = a free port. */
export interface LocalPorts {
  api: number;
  vast: number;
  aws: number;
  dynamodb: number;
  events: number;
}

/** Vast as the simulator: seeded, in real time, with its own API key. */
export interface SimulatedVastOptions {
  kind: "simulator";
  /** Marketplace seed. Default 1. */
  seed?: number;
  /** Simulated training length, seconds. Default 30. */
  trainingSeconds?: number;
  /** Seconds an instance spends provisioning, then loading its image. Default 5 and 20, as Vast. */
  provisioningSeconds?: number;
  loadingSeconds?: number;
  /** A seeded random fault profile (the chaos run's). Default: none. */
  faults?: RandomFaultProfileInput;
  /** Offers in the seeded marketplace. Default 300. */
  marketSize?: number;
}

/** Real Vast.ai with the account's API key. */
export interface LiveVastOptions {
  kind: "live";
  apiKey: string;
  /** The Hugging Face token instances of gated-model templates (FLUX.1-dev) download with. */
  hfToken?: string;
  baseUrl?: string;
}

export interface LocalStackOptions {
  /** Ports; each defaults to 0 (a free one). */
  ports?: Partial<LocalPorts>;
  /** The API key the stack's HTTP API accepts (name "local"). Default: random. */
  apiKey?: string;
  /** Seconds between poller runs. Default 10. */
  pollIntervalSeconds?: number;
  /** Seconds before an unknown instance with our label is destroyed. Default 60. */
  orphanGraceSeconds?: number;
  /** Default: the simulator. */
  vast?: SimulatedVastOptions | LiveVastOptions;
  /** Long-poll wait of the queue workers, seconds (0–20). Default 20; tests stop faster with less. */
  receiveWaitSeconds?: number;
  /**
   * The deployment's numbers the functions run with: queue visibility timeouts, function timeouts
   * and teardown margins. Default `DEPLOYMENT`, as deployed; the chaos run passes a time-compressed
   * copy (and the leases to match in `settings`).
   */
  deployment?: DeploymentSettings;
  /** Orchestration settings (core's jobs/settings.ts) laid over those the environment sets. */
  settings?: JobSettingsOverrides;
  /** Minimum ms between calls per Vast endpoint (default: Vast's published thresholds). */
  vastRateLimits?: JobDependencyOptions["vastRateLimits"];
  /**
   * Run the queue workers and the poller's timer in this process. Default true. With false nothing
   * consumes the queues or runs the poller on a schedule until another process does (the chaos run
   * forks them, to kill them); the poller still runs here on `Reconcile Requested`.
   */
  runFunctions?: boolean;
  /** The stack's own messages (start-up, workers, bus); the functions log through Powertools. */
  logger: Logger;
}

export interface LocalStack {
  apiUrl: string;
  apiKey: string;
  /** Vast's API as the functions reach it (the simulator's URL, or Vast's). */
  vastUrl: string;
  /** The simulator's API key; null when driving real Vast (never printed or written). */
  vastKey: string | null;
  /** The simulator (admin API included), when it is the Vast in use. */
  sim: VastSim | null;
  aws: LocalAws;
  bus: LocalEventBus;
  dynamoEndpoint: string;
  tableName: string;
  /** Signs `POST /v1/jobs` webhooks (submission secret "local"). */
  submissionSecret: string;
  /** The secret the simulator signs its notification webhooks with. */
  vastWebhookSecret: string;
  /** The functions' dependencies (store, queue, ...), as built from the environment. */
  deps: JobDependencies;
  /** The environment the functions were built from (secrets included: never print it). */
  environment: Readonly<Record<string, string>>;
  /**
   * Stops the poller and the workers, cancels every job still running and destroys what this
   * stack's jobs rented (`releaseRentals`), then stops every service. Resolves with what it released.
   */
  stop(): Promise<ReleasedRentals>;
}

const BUS_NAME = "vast-rental-local";
const LIVE_ORPHAN_GRACE_SECONDS = 10 * 365 * 24 * 3600;
const BUCKETS = { datasets: "datasets", artifacts: "artifacts" };

const secret = () => randomBytes(24).toString("base64url");

/** AWS SDK clients read credentials and region from the process; local emulators accept any. */
function ensureLocalAwsIdentity(): void {
  process.env.AWS_REGION ??= LOCAL_REGION;
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const ports: LocalPorts = { api: 0, vast: 0, aws: 0, dynamodb: 0, events: 0, ...options.ports };
  const vast = options.vast ?? { kind: "simulator" };
  const logger = options.logger;
  const functions = localFunctions(options.deployment ?? DEPLOYMENT);
  // A taken port is reported before anything starts, named by its setting.
  await assertPortFree(ports.api, "PORT");
  if (vast.kind === "simulator") await assertPortFree(ports.vast, "VAST_SIM_PORT");
  await assertPortFree(ports.aws, "AWS_PORT");
  await assertPortFree(ports.dynamodb, "DYNAMODB_PORT");
  await assertPortFree(ports.events, "EVENTS_PORT");

  const stops: (() => Promise<void>)[] = [];
  let released: ReleasedRentals = { cancelledJobs: [], destroyedInstances: [], problems: [] };
  const stopAll = async (): Promise<ReleasedRentals> => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.warn("a local service did not stop cleanly", { error: String(error) });
      }
    }
    stops.length = 0;
    return released;
  };
  try {
    ensureLocalAwsIdentity();
    const apiKey = options.apiKey ?? secret();
    const submissionSecret = secret();
    const vastWebhookSecret = secret();

    const dynamo = await launchDynamoLocal({ port: ports.dynamodb });
    stops.push(() => dynamo.stop());
    const aws = await startLocalAws({
      port: ports.aws,
      queues: {
        provision: functions.provision.queue,
        push: functions.push.queue,
      },
      buckets: BUCKETS,
    });
    stops.push(() => aws.stop());

    // The bus and the API exist before the functions behind them: rules and routes bind late.
    let onCommand: (event: BusEvent) => Promise<unknown> = async () => {
      throw new Error("the events subscriber is not ready");
    };
    let onReconcile: (event: BusEvent) => Promise<unknown> = async () => undefined;
    let deadLetter: (event: BusEvent, reason: string) => Promise<void> = async () => undefined;
    const commandTypes = new Set<string>(COMMAND_DETAIL_TYPES);
    const bus = await startLocalEventBus({
      port: ports.events,
      busName: BUS_NAME,
      logger,
      rules: [
        {
          name: "Commands",
          matches: (e) => commandTypes.has(e["detail-type"]),
          target: (e) => onCommand(e),
          deadLetter: (e, reason) => deadLetter(e, reason),
        },
        {
          name: "Reconcile",
          matches: (e) => e.source === EVENT_SOURCE && e["detail-type"] === "Reconcile Requested",
          target: (e) => onReconcile(e),
        },
      ],
    });
    stops.push(() => bus.stop());

    let app: ApiApp | null = null;
    const server = await listen(ports.api, (request) =>
      app ? app.fetch(request) : new Response("starting", { status: 503 }),
    );
    stops.push(() => server.close());
    const apiUrl = `http://127.0.0.1:${server.port}`;

    let sim: VastSim | null = null;
    if (vast.kind === "simulator") {
      sim = await startVastSim({
        port: ports.vast,
        seed: vast.seed ?? 1,
        trainingSeconds: vast.trainingSeconds ?? 30,
        delays: {
          provisioningSeconds: vast.provisioningSeconds ?? 5,
          loadingSeconds: vast.loadingSeconds ?? 20,
        },
        webhook: { url: `${apiUrl}/v1/webhooks/vast`, secret: vastWebhookSecret },
        ...(vast.faults ? { faults: vast.faults } : {}),
        ...(vast.marketSize ? { marketSize: vast.marketSize } : {}),
        logger,
      });
      const started = sim;
      stops.push(() => started.close());
    }
    const vastUrl = sim ? sim.url : (vast.kind === "live" && vast.baseUrl) || "https://console.vast.ai";

    const dynamoClient = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const tableName = "vast-rental-local";
    await createTable(dynamoClient, tableName);
    dynamoClient.destroy();

    const environment: Record<string, string> = {
      TABLE_NAME: tableName,
      PROVISION_QUEUE_URL: aws.queues.provision.url,
      PUSH_QUEUE_URL: aws.queues.push.url,
      COMMANDS_DLQ_URL: aws.queues.commandsDlq.url,
      EVENT_BUS_NAME: BUS_NAME,
      ARTIFACT_BUCKET: BUCKETS.artifacts,
      DATASET_BUCKETS: BUCKETS.datasets,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      SQS_ENDPOINT: aws.endpoint,
      S3_ENDPOINT: aws.endpoint,
      EVENTBRIDGE_ENDPOINT: bus.endpoint,
      VASTAI_BASE_URL: vastUrl,
      VASTAI_API_KEY: sim ? sim.apiKey : (vast as LiveVastOptions).apiKey,
      VASTAI_SSH_PRIVATE_KEY: generateHostKey(),
      // FLUX.1-dev is gated: the simulator's instances get a made-up token (nothing downloads there).
      ...(sim ? { HF_TOKEN: `hf_sim_${secret()}` } : {}),
      ...(!sim && (vast as LiveVastOptions).hfToken ? { HF_TOKEN: (vast as LiveVastOptions).hfToken } : {}),
      WEBHOOK_SECRETS: JSON.stringify({ vast: vastWebhookSecret, callbacks: secret() }),
      API_KEYS: JSON.stringify({ local: apiKey }),
      SUBMISSION_SECRETS: JSON.stringify({ local: submissionSecret }),
      ALLOW_LOCAL_DATASETS: "true",
      // With real Vast, an instance with our label that this stack's table does not know may belong
      // to a deployment sharing the account: never reap it (ten years of grace).
      ORPHAN_GRACE_SECONDS: String(
        vast.kind === "live" ? LIVE_ORPHAN_GRACE_SECONDS : (options.orphanGraceSeconds ?? 60),
      ),
      // Callbacks to receivers on this machine are allowed here, never in the cloud.
      OUTBOUND_ALLOW_HOSTS: "127.0.0.1,localhost",
      POWERTOOLS_SERVICE_NAME: "vast-rental-local",
    };
    const built = await createJobDependencies(
      environment,
      options.vastRateLimits ? { vastRateLimits: options.vastRateLimits } : {},
    );
    const deps: JobDependencies = {
      ...built,
      settings: mergeSettingsOverrides(built.settings, options.settings),
    };

    const deadLetters = commandDeadLetters(environment);
    const events = createEventsHandler({ ...deps, deadLetters });
    const poller = createPollerHandler(deps);
    onCommand = (e) => events(e);
    onReconcile = (e) => poller(e as { detail?: { trigger?: string } });
    deadLetter = (e, reason) => deadLetters.put(e, reason);

    const deployment = options.deployment ?? DEPLOYMENT;
    const queueHandlers = {
      provision: createProvisionHandler(deps, deployment.provision),
      push: createPushHandler(deps, deployment.push),
    };
    const workers: QueueWorker[] =
      options.runFunctions === false
        ? []
        : (["provision", "push"] as const).map((name) =>
            startQueueWorker({
              functionName: name,
              client: aws.sqs,
              queue: aws.queues[name],
              handler: queueHandlers[name],
              ...functions[name].worker,
              waitSeconds: options.receiveWaitSeconds ?? 20,
              logger,
            }),
          );
    // Runs after the workers and the timer stopped (stops run last-in first-out), before any service.
    stops.push(async () => {
      released = await releaseRentals(deps);
      for (const problem of released.problems) logger.warn("could not release a rental", { problem });
    });
    stops.push(async () => {
      await Promise.all(workers.map((w) => w.stop()));
    });
    if (options.runFunctions !== false) {
      const timer = startPollerTimer({
        intervalMs: (options.pollIntervalSeconds ?? 10) * 1000,
        run: () => poller({ trigger: "schedule" }),
        logger,
      });
      stops.push(() => timer.stop());
    }

    app = createApiApp(apiDependencies(deps, environment));
    return {
      apiUrl,
      apiKey,
      vastUrl,
      vastKey: sim ? sim.apiKey : null,
      sim,
      aws,
      bus,
      dynamoEndpoint: dynamo.endpoint,
      tableName,
      submissionSecret,
      vastWebhookSecret,
      deps,
      environment,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

interface Listening {
  port: number;
  close(): Promise<void>;
}

function listen(port: number, fetch: (request: Request) => Response | Promise<Response>): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname: "127.0.0.1" }, (info) =>
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            if ("closeAllConnections" in server) server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    );
    server.once("error", reject);
  });
}
