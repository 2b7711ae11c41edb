/// <reference path="./.sst/platform/config.d.ts" />
/**
 * The AWS deployment: one DynamoDB table, the `provision` and `push` queues (each with a DLQ and
 * partial batch responses), the event bus, the artifacts bucket and one Secrets Manager secret.
 * Handlers are thin adapters over packages/core; every resource name reaches them through the
 * environment (see packages/core/src/config/runtime-config.ts).
 */
export default $config({
  app(input) {
    return {
      name: "vast-rental",
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
      home: "aws",
    };
  },
  async run() {
    // The one table definition, shared with the local stack and the tests.
    const { JOBS_TABLE_SST } = await import("./packages/core/src/store/table-definition");

    const table = new sst.aws.Dynamo("Jobs", {
      fields: { ...JOBS_TABLE_SST.fields },
      primaryIndex: { ...JOBS_TABLE_SST.primaryIndex },
      globalIndexes: { ...JOBS_TABLE_SST.globalIndexes },
      ttl: JOBS_TABLE_SST.ttl,
    });

    // Vast API key, SSH private key and webhook secrets, as one JSON document.
    const secret = new aws.secretsmanager.Secret("VastRentalSecrets", {
      description: "vast-rental: {vastApiKey, sshPrivateKey, webhookSecrets}",
    });
    const secrets = new sst.Linkable("Secrets", {
      properties: { id: secret.id },
      include: [sst.aws.permission({ actions: ["secretsmanager:GetSecretValue"], resources: [secret.arn] })],
    });

    const bus = new sst.aws.Bus("Events");
    const artifacts = new sst.aws.Bucket("Artifacts");

    // SQS requires visibility ≥ the consumer's timeout; AWS recommends 6×.
    const provisionTimeout = "2 minutes";
    const pushTimeout = "15 minutes";
    const provisionDlq = new sst.aws.Queue("ProvisionDlq", { visibilityTimeout: "12 minutes" });
    const pushDlq = new sst.aws.Queue("PushDlq", { visibilityTimeout: "90 minutes" });
    const provisionQueue = new sst.aws.Queue("Provision", {
      visibilityTimeout: "12 minutes",
      dlq: { queue: provisionDlq.arn, retry: 5 },
    });
    const pushQueue = new sst.aws.Queue("Push", {
      visibilityTimeout: "90 minutes",
      dlq: { queue: pushDlq.arn, retry: 3 },
    });

    const environment = {
      TABLE_NAME: table.name,
      PROVISION_QUEUE_URL: provisionQueue.url,
      PUSH_QUEUE_URL: pushQueue.url,
      EVENT_BUS_NAME: bus.name,
      ARTIFACT_BUCKET: artifacts.name,
      SECRET_ID: secret.id,
      POWERTOOLS_SERVICE_NAME: "vast-rental",
    };
    const base: Omit<sst.aws.FunctionArgs, "handler"> = {
      runtime: "nodejs24.x",
      architecture: "arm64",
      memory: "512 MB",
      environment,
      link: [table, provisionQueue, pushQueue, bus, artifacts, secrets],
      // ssh2's optional native `cpu-features` cannot be bundled by esbuild.
      nodejs: { install: ["ssh2"] },
    };

    provisionQueue.subscribe(
      { ...base, handler: "functions/provision.handler", timeout: provisionTimeout },
      { batch: { size: 10, window: "1 second", partialResponses: true } },
    );
    pushQueue.subscribe(
      { ...base, handler: "functions/push-dataset.handler", timeout: pushTimeout, memory: "1024 MB" },
      { batch: { size: 1, partialResponses: true } },
    );

    return { table: table.name, bus: bus.name, artifacts: artifacts.name, secret: secret.id };
  },
});
