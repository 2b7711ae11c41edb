/// <reference path="./.sst/platform/config.d.ts" />
/**
 * The AWS deployment: the HTTP API on a Function URL, the `provision` and `push` queues (each with
 * a dead-letter queue and partial batch responses), the poller/reaper on EventBridge Scheduler
 * (CronV2) and on `Reconcile Requested`, the event bus with the commands subscriber and its
 * dead-letter queue, one DynamoDB table, the artifacts bucket, read access to the dataset buckets
 * the deployment names, and one Secrets Manager secret. Handlers are thin adapters over
 * packages/core.
 *
 * One way to find resources: environment variables. Every resource name reaches the functions as
 * an environment variable (TABLE_NAME, PROVISION_QUEUE_URL, PUSH_QUEUE_URL, EVENT_BUS_NAME,
 * ARTIFACT_BUCKET, SECRET_ID, COMMANDS_DLQ_URL), read and validated by packages/core/src/config —
 * the same variables the local stack and the tests set. `link` is used nowhere: it would add a
 * second way to find names (SST's `Resource`) and grant every linked resource to every function.
 * Instead each function gets explicit IAM `permissions`, only what its code needs
 * (FUNCTION_ACCESS in packages/core/src/deployment/access.ts).
 *
 * Every number that must agree with the code — timeouts, memory, visibility timeouts, redrive
 * counts, batches, concurrency, the schedule — comes from packages/core/src/deployment, and the
 * deployment stops before creating anything if they break checkDeploymentInvariants.
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
    // The numbers shared with core, the access table and the check that they agree.
    const {
      ACCESS,
      BUNDLE_COPY_FILES,
      checkDeploymentInvariants,
      DEPLOYMENT,
      FUNCTION_ACCESS,
      megabytes,
      seconds,
    } = await import("./packages/core/src/deployment");
    // The code's side of the agreement: its last delivery per queue. (Its leases and budgets are
    // derived from DEPLOYMENT; the infrastructure settings test checks them with every other rule.)
    const { MAX_DELIVERIES } = await import("./packages/core/src/queue/redrive");
    // The one table definition, shared with the local stack and the tests.
    const { JOBS_TABLE_SST } = await import("./packages/core/src/store/table-definition");
    // The events other services send to drive the system (one list for the code and the rule).
    const { COMMAND_DETAIL_TYPES } = await import("./packages/core/src/events/commands");

    const violations = checkDeploymentInvariants(DEPLOYMENT, { maxDeliveries: MAX_DELIVERIES });
    if (violations.length > 0) {
      throw new Error(
        `packages/core/src/deployment: ${violations.map((v) => `[${v.rule}] ${v.message}`).join("; ")}`,
      );
    }

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
    const orphanGraceSeconds = (process.env.ORPHAN_GRACE_SECONDS ?? "600").trim();
    if (!/^[1-9]\d*$/.test(orphanGraceSeconds)) {
      throw new Error("ORPHAN_GRACE_SECONDS must be a whole number of seconds greater than 0");
    }

    const table = new sst.aws.Dynamo("Jobs", {
      fields: { ...JOBS_TABLE_SST.fields },
      primaryIndex: { ...JOBS_TABLE_SST.primaryIndex },
      globalIndexes: { ...JOBS_TABLE_SST.globalIndexes },
      ttl: JOBS_TABLE_SST.ttl,
    });

    // Vast API key, SSH private key, Hugging Face token, signing secrets and API credentials, as one
    // JSON document (README: Deployment). Its value is set by hand after the first deploy.
    const secret = new aws.secretsmanager.Secret("VastRentalSecrets", {
      description:
        "vast-rental: {vastApiKey, sshPrivateKey, hfToken, webhookSecrets: {vast, vastPrevious, callbacks}, apiKeys, submissionSecrets}",
    });

    const bus = new sst.aws.Bus("Events");
    const artifacts = new sst.aws.Bucket("Artifacts");

    // A dead letter keeps its first enqueue time, so dead-letter queues keep messages longer than
    // the work queues do; nothing consumes them.
    const deadLetterQueue = (name: string) =>
      new sst.aws.Queue(name, {
        visibilityTimeout: seconds(DEPLOYMENT.deadLetters.visibilityTimeoutSeconds),
        transform: { queue: { messageRetentionSeconds: DEPLOYMENT.deadLetters.retentionSeconds } },
      });
    // Visibility ≥ 6 × the consumer's timeout, and the redrive count is the code's last delivery.
    const workQueue = (name: string, consumer: typeof DEPLOYMENT.provision, dlq: sst.aws.Queue) =>
      new sst.aws.Queue(name, {
        visibilityTimeout: seconds(consumer.queue.visibilityTimeoutSeconds),
        dlq: { queue: dlq.arn, retry: consumer.queue.maxReceiveCount },
        transform: { queue: { messageRetentionSeconds: DEPLOYMENT.queueRetentionSeconds } },
      });
    const provisionQueue = workQueue("Provision", DEPLOYMENT.provision, deadLetterQueue("ProvisionDlq"));
    const pushQueue = workQueue("Push", DEPLOYMENT.push, deadLetterQueue("PushDlq"));
    // A command event that can never apply is kept here with its reason (see functions/events.ts),
    // and so is an invocation Lambda gave up on.
    const commandsDlq = deadLetterQueue("CommandsDlq");

    // Each kind of access in FUNCTION_ACCESS, on the resources it names.
    const resources: Record<keyof typeof ACCESS, $util.Input<string>[]> = {
      secret: [secret.arn],
      table: [table.arn, $interpolate`${table.arn}/index/*`],
      bus: [bus.arn],
      provisionQueue: [provisionQueue.arn],
      pushQueue: [pushQueue.arn],
      artifacts: [$interpolate`${artifacts.arn}/*`],
      // Listed and read (checked before renting, then streamed to the instance).
      datasets:
        datasetBuckets.length > 0
          ? datasetBuckets.flatMap((b) => [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`])
          : ["*"],
      commandsDlq: [commandsDlq.arn],
    };

    // Names only: nothing secret goes into the environment.
    const environment: Record<string, $util.Input<string>> = {
      TABLE_NAME: table.name,
      PROVISION_QUEUE_URL: provisionQueue.url,
      PUSH_QUEUE_URL: pushQueue.url,
      EVENT_BUS_NAME: bus.name,
      ARTIFACT_BUCKET: artifacts.name,
      SECRET_ID: secret.id,
      POWERTOOLS_SERVICE_NAME: "vast-rental",
      // An instance with our label that no job knows is destroyed after this long (README: Reaper).
      ORPHAN_GRACE_SECONDS: orphanGraceSeconds,
      // Buckets datasets may be read from (comma-separated); unset ("*" above) = any the role can read.
      ...(datasetBuckets.length > 0 ? { DATASET_BUCKETS: datasetBuckets.join(",") } : {}),
      // Hosts datasets and callbacks may reach although not public: none in the cloud by default.
      ...(process.env.OUTBOUND_ALLOW_HOSTS ? { OUTBOUND_ALLOW_HOSTS: process.env.OUTBOUND_ALLOW_HOSTS } : {}),
    };

    /** A function's arguments: its size from DEPLOYMENT, its permissions from FUNCTION_ACCESS. */
    const functionArgs = (
      name: keyof typeof FUNCTION_ACCESS,
      handler: string,
      extra: Partial<sst.aws.FunctionArgs> = {},
    ): sst.aws.FunctionArgs => ({
      handler,
      runtime: "nodejs24.x",
      architecture: "arm64",
      timeout: seconds(DEPLOYMENT[name].timeoutSeconds),
      memory: megabytes(DEPLOYMENT[name].memoryMb),
      environment,
      permissions: FUNCTION_ACCESS[name].map((access) => ({
        actions: [...ACCESS[access].actions],
        resources: resources[access],
      })),
      // ssh2's optional native `cpu-features` cannot be bundled by esbuild.
      nodejs: { install: ["ssh2"] },
      // The training templates (packages/core/configs), read at start-up by every function.
      copyFiles: BUNDLE_COPY_FILES.map((file) => ({ ...file })),
      ...extra,
    });

    const provision = DEPLOYMENT.provision;
    provisionQueue.subscribe(functionArgs("provision", "functions/provision.handler"), {
      batch: {
        size: provision.queue.batchSize,
        window: seconds(provision.queue.batchWindowSeconds),
        partialResponses: true,
      },
      ...(provision.queue.maxConcurrency === null
        ? {}
        : {
            transform: {
              eventSourceMapping: { scalingConfig: { maximumConcurrency: provision.queue.maxConcurrency } },
            },
          }),
    });

    const push = DEPLOYMENT.push;
    pushQueue.subscribe(
      functionArgs("push", "functions/push-dataset.handler", {
        concurrency: { reserved: push.reservedConcurrency },
      }),
      {
        batch: {
          size: push.queue.batchSize,
          window: seconds(push.queue.batchWindowSeconds),
          partialResponses: true,
        },
        // The event source never runs more pushes than are reserved: a throttled batch would come
        // back after the visibility timeout with its receive count raised.
        ...(push.queue.maxConcurrency === null
          ? {}
          : {
              transform: {
                eventSourceMapping: { scalingConfig: { maximumConcurrency: push.queue.maxConcurrency } },
              },
            }),
      },
    );

    // The poller/reaper: one function, on the schedule and on demand when a Vast notification
    // arrives (`Reconcile Requested` on the bus); two runs never overlap (the reaper's lease).
    const poller = new sst.aws.Function("Poller", functionArgs("poller", "functions/poller.handler"));
    new sst.aws.CronV2("PollerSchedule", {
      schedule: DEPLOYMENT.poller.schedule,
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
      functionArgs("events", "functions/events.handler", {
        environment: { ...environment, COMMANDS_DLQ_URL: commandsDlq.url },
        // An invocation that keeps failing (the table down, say) ends here too, with Lambda's reason.
        transform: { function: { deadLetterConfig: { targetArn: commandsDlq.arn } } },
      }),
      { pattern: { detailType: [...COMMAND_DETAIL_TYPES] } },
    );

    // The HTTP API (Hono) on a Lambda Function URL; it authenticates every request itself.
    const api = new sst.aws.Function("Api", functionArgs("api", "functions/api.handler", { url: true }));

    return {
      api: api.url,
      table: table.name,
      bus: bus.name,
      artifacts: artifacts.name,
      secret: secret.id,
      commandsDlq: commandsDlq.url,
    };
  },
});
