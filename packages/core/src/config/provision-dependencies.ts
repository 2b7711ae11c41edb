/**
 * Builds the provisioning step's dependencies from the environment and the secrets: DynamoDB,
 * SQS, EventBridge, the Vast service, the SSH probe, a redacting Powertools logger. Used once
 * per Lambda container (and by the local stack with endpoint overrides).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { systemClock } from "../clock";
import { EventBridgePublisher } from "../events";
import { type ProvisionDeps, type SshProbe, vastPortFromService } from "../jobs";
import { SqsJobQueue } from "../queue";
import { probeSsh } from "../ssh";
import { DynamoJobStore } from "../store";
import { VastAIService } from "../vast";
import { createServiceLogger } from "./redacting-logger";
import { loadRuntimeConfig } from "./runtime-config";
import { loadSecrets, secretValues } from "./secrets";
import { publicKeyFromPrivate } from "./ssh-public-key";

export async function createProvisionDependencies(
  env: Record<string, string | undefined> = process.env,
): Promise<ProvisionDeps> {
  const config = loadRuntimeConfig(env);
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
  const sshPublicKey = publicKeyFromPrivate(secrets.sshPrivateKey);
  const service = new VastAIService({
    apiKey: secrets.vastApiKey,
    baseUrl: config.VASTAI_BASE_URL,
    logger,
    sshPublicKey,
  });
  const vast = vastPortFromService(service, sshPublicKey);
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
  return { store, vast, queue, events, probe, clock: systemClock, logger, secrets: known };
}
