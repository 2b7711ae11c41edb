/**
 * Least privilege, function by function: which resources each deployed function may touch and
 * with which actions, worked out from the code each handler runs. `sst.config.ts` turns every
 * entry into an IAM statement on the matching resource; names reach the functions through their
 * environment, never through `link`. Receiving, deleting and re-timing its own queue's messages
 * is granted to a queue consumer by its subscription, so it is not listed here.
 */

/** The deployed functions. */
export type DeployedFunction = "api" | "provision" | "push" | "poller" | "events";

/** A kind of access to one resource of the deployment. */
export type Access =
  | "secret"
  | "table"
  | "bus"
  | "provisionQueue"
  | "pushQueue"
  | "artifacts"
  | "datasets"
  | "commandsDlq";

/** What each kind of access allows, and which code needs it. */
export const ACCESS: Readonly<Record<Access, { actions: readonly string[]; why: string }>> = {
  secret: {
    actions: ["secretsmanager:GetSecretValue"],
    why: "every handler reads the Vast API key, SSH key and signing secrets at start (config/secrets.ts)",
  },
  table: {
    // Items and index queries only: the code never scans and never changes the table itself.
    actions: [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:ConditionCheckItem",
    ],
    why: "jobs, attempts, leases, timelines and idempotency records (store/dynamo-job-store.ts)",
  },
  bus: {
    actions: ["events:PutEvents"],
    why: "lifecycle events and Reconcile Requested (events/eventbridge-publisher.ts)",
  },
  provisionQueue: {
    actions: ["sqs:SendMessage"],
    why: "a new job's provision message, readiness checks, a next attempt, signed callbacks",
  },
  pushQueue: {
    actions: ["sqs:SendMessage"],
    why: "the push message once an instance is ready (readiness), or re-sent by the reaper",
  },
  artifacts: {
    // GetObject covers the HEAD that checks an upload; DeleteObject removes one that failed it.
    actions: ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
    why: "the trained artifact, streamed from the instance (training/collect.ts) by the poller's completion check and its follow-ups in the provision function",
  },
  datasets: {
    actions: ["s3:ListBucket", "s3:GetObject"],
    why: "the dataset is checked before renting and streamed onto the instance (dataset/s3-source.ts, inspect.ts)",
  },
  commandsDlq: {
    actions: ["sqs:SendMessage"],
    why: "a command that can never apply is kept with its reason; Lambda's own dead letters land there too",
  },
};

/**
 * Each function's access. The API and the events subscriber run the same commands (submit,
 * cancel, terminate); provisioning and readiness rent and hand over to the push, and the
 * provision function's completion follow-ups collect a run that ended between poller runs; the push
 * streams the dataset and may start the next attempt; the poller finishes whatever any step
 * left undone (re-sends lost steps on both queues) and collects artifacts.
 */
export const FUNCTION_ACCESS: Readonly<Record<DeployedFunction, readonly Access[]>> = {
  api: ["secret", "table", "bus", "provisionQueue"],
  events: ["secret", "table", "bus", "provisionQueue", "commandsDlq"],
  provision: ["secret", "table", "bus", "provisionQueue", "pushQueue", "datasets", "artifacts"],
  push: ["secret", "table", "bus", "provisionQueue", "datasets"],
  poller: ["secret", "table", "bus", "provisionQueue", "pushQueue", "artifacts"],
};
