/// <reference path="./.sst/platform/config.d.ts" />
/**
 * The AWS deployment: one DynamoDB table, the `provision` and `push` queues (each with a DLQ and
 * partial batch responses), the poller/reaper on an EventBridge Scheduler schedule (every
 * minute), the event bus, the artifacts bucket and one Secrets Manager secret. Handlers are thin
 * adapters over packages/core; every resource name and setting reaches them through the
 * environment (see packages/core/src/config/).
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
    // How often each queue delivers a message: the code's "last delivery" must be the queue's.
    const { MAX_DELIVERIES } = await import("./packages/core/src/queue/redrive");
    // The events other services send to drive the system (one list for the code and the rule).
    const { COMMAND_DETAIL_TYPES } = await import("./packages/core/src/events/commands");

    const table = new sst.aws.Dynamo("Jobs", {
      fields: { ...JOBS_TABLE_SST.fields },
      primaryIndex: { ...JOBS_TABLE_SST.primaryIndex },
      globalIndexes: { ...JOBS_TABLE_SST.globalIndexes },
      ttl: JOBS_TABLE_SST.ttl,
    });

    // Vast API key, SSH private key and webhook secrets, as one JSON document.
    const secret = new aws.secretsmanager.Secret("VastRentalSecrets", {
      description:
        "vast-rental: {vastApiKey, sshPrivateKey, webhookSecrets: {vast, callbacks}, apiKeys, submissionSecrets}",
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
      dlq: { queue: provisionDlq.arn, retry: MAX_DELIVERIES.provision },
    });
    const pushQueue = new sst.aws.Queue("Push", {
      visibilityTimeout: "90 minutes",
      dlq: { queue: pushDlq.arn, retry: MAX_DELIVERIES.push },
    });

    // Submitters choose the dataset bucket, so a deployment names the buckets they may read from
    // (or "*" for any bucket the role can read, knowingly) rather than defaulting to all of them.
    const datasetBucketsSetting = (process.env.DATASET_BUCKETS ?? "").trim();
    if (datasetBucketsSetting === "") {
      throw new Error(
        'Set DATASET_BUCKETS to the comma-separated S3 buckets datasets may come from, or "*" to allow any bucket the role can read',
      );
    }
    const datasetBuckets =
      datasetBucketsSetting === "*"
        ? []
        : datasetBucketsSetting
            .split(",")
            .map((b) => b.trim())
            .filter(Boolean);
    // A command event that can never apply is kept here with its reason (see functions/events.ts).
    const commandsDlq = new sst.aws.Queue("CommandsDlq", { visibilityTimeout: "1 minute" });
    const environment = {
      COMMANDS_DLQ_URL: commandsDlq.url,
      TABLE_NAME: table.name,
      PROVISION_QUEUE_URL: provisionQueue.url,
      PUSH_QUEUE_URL: pushQueue.url,
      EVENT_BUS_NAME: bus.name,
      ARTIFACT_BUCKET: artifacts.name,
      SECRET_ID: secret.id,
      POWERTOOLS_SERVICE_NAME: "vast-rental",
      // An instance with our label that no job knows is destroyed after this long (README: Reaper).
      ORPHAN_GRACE_SECONDS: process.env.ORPHAN_GRACE_SECONDS ?? "600",
      // Buckets datasets may be read from (comma-separated); unset ("*" above) = any the role can read.
      ...(datasetBuckets.length > 0 ? { DATASET_BUCKETS: datasetBuckets.join(",") } : {}),
      // Hosts datasets and callbacks may reach although not public: none in the cloud by default.
      ...(process.env.OUTBOUND_ALLOW_HOSTS ? { OUTBOUND_ALLOW_HOSTS: process.env.OUTBOUND_ALLOW_HOSTS } : {}),
    };
    const base: Omit<sst.aws.FunctionArgs, "handler"> = {
      runtime: "nodejs24.x",
      architecture: "arm64",
      memory: "512 MB",
      environment,
      link: [table, provisionQueue, pushQueue, bus, artifacts, secrets, commandsDlq],
      // Datasets are listed and read (checked before renting, then streamed to the instance).
      permissions: [
        {
          actions: ["s3:ListBucket", "s3:GetObject"],
          resources:
            datasetBuckets.length > 0
              ? datasetBuckets.flatMap((b) => [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`])
              : ["*"],
        },
      ],
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

    // The poller/reaper: every minute, never two at once (it also holds a lease of its own), and on
    // demand when a Vast notification arrives (`Reconcile Requested` on the bus).
    const poller: sst.aws.FunctionArgs = {
      ...base,
      handler: "functions/poller.handler",
      timeout: "5 minutes",
      memory: "1024 MB",
    };
    new sst.aws.CronV2("Poller", {
      schedule: "rate(1 minute)",
      function: poller,
      event: { trigger: "schedule" },
      retries: 0,
    });
    bus.subscribe("Reconcile", poller, {
      pattern: { source: ["vast-rental"], detailType: ["Reconcile Requested"] },
    });

    // Other AWS services drive the system through the bus: the same commands as the API.
    bus.subscribe(
      "Commands",
      {
        ...base,
        handler: "functions/events.handler",
        timeout: "1 minute",
        // An invocation that keeps failing (the table down, say) ends here too, with Lambda's reason.
        transform: { function: { deadLetterConfig: { targetArn: commandsDlq.arn } } },
      },
      { pattern: { detailType: [...COMMAND_DETAIL_TYPES] } },
    );

    // The HTTP API (Hono) on a Lambda Function URL; it authenticates every request itself.
    const api = new sst.aws.Function("Api", {
      ...base,
      handler: "functions/api.handler",
      timeout: "30 seconds",
      url: true,
    });

    return { api: api.url, table: table.name, bus: bus.name, artifacts: artifacts.name, secret: secret.id };
  },
});
