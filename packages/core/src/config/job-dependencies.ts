/**
 * Builds every step's dependencies from the environment and the secrets: DynamoDB, SQS,
 * EventBridge, S3 (datasets and artifacts), the Vast service, SSH (probe, pre-flight host check and
 * sessions with the orchestrator's key), the signed callback sender and a redacting Powertools logger. Built once per
 * Lambda container — the provision, push and poller handlers share it — and by the local stack
 * with endpoint overrides.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { HttpCallbackSender } from "../callbacks";
import { systemClock } from "../clock";
import { datasetReaderFor, inspectDataset } from "../dataset";
import { DEPLOYMENT } from "../deployment";
import { EventBridgePublisher } from "../events";
import { type ReaperDeps, type SshConnector, type SshProbe, vastPortFromService } from "../jobs";
import { guardedHttpsAgent, parseOutboundAllowHosts } from "../net";
import { preflightOverSsh } from "../preflight";
import { type DeadLetterSink, SqsDeadLetters, SqsJobQueue } from "../queue";
import { connectSsh, probeSsh } from "../ssh";
import { DynamoJobStore } from "../store";
import { VastAIService, type VastEndpoint } from "../vast";
import { loadOrchestrationConfig, settingsFromConfig } from "./orchestration-config";
import { createServiceLogger } from "./redacting-logger";
import { ConfigError, loadRuntimeConfig } from "./runtime-config";
import { loadSecrets, secretValues } from "./secrets";
import { publicKeyFromPrivate } from "./ssh-public-key";

/** Every step's dependencies, as built for a Lambda container or the local stack. */
export interface JobDependencies extends ReaperDeps {
  /**
   * Every secret value known, scrubbed from logs, the timeline, events and responses. The logger
   * reads this very list, so a secret read later (the API's credentials) is appended here.
   */
  secrets: string[];
}

/** What a caller may change about the dependencies beyond the environment. */
export interface JobDependencyOptions {
  /**
   * Minimum milliseconds between two calls to each Vast endpoint from this container (default: Vast's
   * published thresholds). The chaos run's time-compressed stack divides them like its other timings.
   */
  vastRateLimits?: Partial<Record<VastEndpoint, number>>;
}

export async function createJobDependencies(
  env: Record<string, string | undefined> = process.env,
  options: JobDependencyOptions = {},
): Promise<JobDependencies> {
  const config = loadRuntimeConfig(env);
  const orchestration = loadOrchestrationConfig(env);
  const secrets = await loadSecrets({ env });
  const known = secretValues(secrets);
  const logger = createServiceLogger(config.POWERTOOLS_SERVICE_NAME, () => known);
  const dynamo = new DynamoDBClient({ endpoint: config.DYNAMODB_ENDPOINT });
  const store = new DynamoJobStore({
    client: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    tableName: config.TABLE_NAME,
  });
  const queue = new SqsJobQueue({
    client: new SQSClient({ endpoint: config.SQS_ENDPOINT }),
    queueUrls: { provision: config.PROVISION_QUEUE_URL, push: config.PUSH_QUEUE_URL },
  });
  const events = new EventBridgePublisher({
    client: new EventBridgeClient({ endpoint: config.EVENTBRIDGE_ENDPOINT }),
    eventBusName: config.EVENT_BUS_NAME,
  });
  const s3 = new S3Client({
    ...(orchestration.S3_ENDPOINT ? { endpoint: orchestration.S3_ENDPOINT, forcePathStyle: true } : {}),
  });
  const sshPublicKey = publicKeyFromPrivate(secrets.sshPrivateKey);
  const service = new VastAIService({
    apiKey: secrets.vastApiKey,
    baseUrl: config.VASTAI_BASE_URL,
    logger,
    sshPublicKey,
    // Vast echoes a create's env in instance views and may echo it in errors: scrub the token too.
    redactSecrets: secrets.hfToken ? [secrets.hfToken] : [],
    // One request must fit inside the shortest function that makes one (the API, the subscriber).
    timeoutMs: DEPLOYMENT.stepDeadlines.vastRequestSeconds * 1000,
    ...(options.vastRateLimits ? { rateLimits: options.vastRateLimits } : {}),
  });
  // One short try per check: the readiness step itself re-checks with backoff.
  const probe: SshProbe = (target) =>
    probeSsh({
      ...target,
      username: "root",
      privateKey: secrets.sshPrivateKey,
      retry: { attempts: 2, baseDelayMs: 500, maxDelayMs: 1_000 },
      readyTimeoutMs: 10_000,
      logger,
    });
  // Right after a successful probe: the same short connection policy, one session per check.
  const preflight = preflightOverSsh((target, options) =>
    connectSsh({
      ...target,
      username: "root",
      privateKey: secrets.sshPrivateKey,
      retry: { attempts: 2, baseDelayMs: 500, maxDelayMs: 1_000 },
      readyTimeoutMs: 10_000,
      logger,
      signal: options?.signal,
    }),
  );
  const ssh: SshConnector = (target, options) =>
    connectSsh({
      ...target,
      username: "root",
      privateKey: secrets.sshPrivateKey,
      // Bounded (about 90 s at worst) so a dead instance fails the delivery well inside the push
      // function's timeout and the poller's run (DEPLOYMENT.push, DEPLOYMENT.poller).
      retry: { attempts: 4, baseDelayMs: 1_000, maxDelayMs: 8_000 },
      readyTimeoutMs: 20_000,
      keepaliveIntervalMs: 15_000,
      logger,
      signal: options?.signal,
    });
  const policy = parseOutboundAllowHosts(orchestration.OUTBOUND_ALLOW_HOSTS);
  const datasetClients = {
    s3,
    allowLocal: orchestration.ALLOW_LOCAL_DATASETS === "true",
    https: { agent: guardedHttpsAgent({ policy, keepAlive: true }), policy },
  };
  const callbackSecret = secrets.webhookSecrets.callbacks;
  return {
    store,
    vast: vastPortFromService(service, sshPublicKey),
    queue,
    events,
    clock: systemClock,
    logger,
    secrets: known,
    probe,
    ...(secrets.hfToken ? { hfToken: secrets.hfToken } : {}),
    preflight,
    ssh,
    datasets: {
      reader: (source) => datasetReaderFor(source, datasetClients),
      inspect: (source, options) => inspectDataset(source, datasetClients, options),
    },
    s3,
    artifactBucket: orchestration.ARTIFACT_BUCKET,
    ...(callbackSecret
      ? { callbacks: new HttpCallbackSender({ secret: callbackSecret, policy, clock: systemClock, logger }) }
      : {}),
    settings: settingsFromConfig(orchestration),
    outbound: policy,
  };
}

/**
 * A Lambda handler whose dependencies are built on its first call and kept for the container's
 * life; a failed build (Secrets Manager unreachable, say) is tried again on the next call.
 */
export function withJobDependencies<A extends unknown[], R>(
  make: (deps: JobDependencies) => (...args: A) => Promise<R>,
  env: Record<string, string | undefined> = process.env,
): (...args: A) => Promise<R> {
  let ready: Promise<(...args: A) => Promise<R>> | undefined;
  return async (...args) => {
    ready ??= createJobDependencies(env).then(make);
    ready.catch(() => {
      ready = undefined;
    });
    return (await ready)(...args);
  };
}

/** The EventBridge subscriber's dead-letter queue, from `COMMANDS_DLQ_URL`. */
export function commandDeadLetters(env: Record<string, string | undefined> = process.env): DeadLetterSink {
  const config = loadRuntimeConfig(env);
  if (!config.COMMANDS_DLQ_URL) throw new ConfigError("missing or invalid environment: COMMANDS_DLQ_URL");
  return new SqsDeadLetters({
    client: new SQSClient({ endpoint: config.SQS_ENDPOINT }),
    queueUrl: config.COMMANDS_DLQ_URL,
  });
}
