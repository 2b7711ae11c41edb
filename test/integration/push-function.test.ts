/**
 * The push Lambda's shell: dependencies built from the environment (no network needed to build
 * them), and the handler's partial batch responses — a malformed record fails alone, a stale one
 * succeeds without work, a throwing one is reported for retry.
 */
import { describe, expect, it } from "vitest";
import { createPushHandler } from "../../functions/push-dataset";
import { HttpCallbackSender } from "../../packages/core/src/callbacks";
import { systemClock } from "../../packages/core/src/clock";
import { ConfigError, createJobDependencies } from "../../packages/core/src/config";
import { InMemoryEventPublisher } from "../../packages/core/src/events";
import { type PushDeps, settingsOf } from "../../packages/core/src/jobs";
import { silentLogger } from "../../packages/core/src/observability";
import { InMemoryJobQueue } from "../../packages/core/src/queue";
import type { JobStore } from "../../packages/core/src/store";
import { fakeDatasets } from "../support/fake-datasets";
import { offlineJobEnvironment } from "../support/offline-environment";
import { recordingDestroys } from "../support/push-harness";
import { toSqsRecord } from "../support/sqs-pump";

const env = offlineJobEnvironment();

describe("createJobDependencies", () => {
  it("builds every step's dependencies from the environment", async () => {
    const deps = await createJobDependencies(env);
    expect(deps.artifactBucket).toBe("loras");
    expect(settingsOf(deps)).toMatchObject({
      push: { workspaceRoot: "/workspace" },
      reaper: { orphanGraceMs: 600_000 },
      dataset: { allowedBuckets: null },
    });
    // No callback signing secret in this environment: callbacks are off.
    expect(deps.callbacks).toBeUndefined();
    const signed = await createJobDependencies({
      ...env,
      WEBHOOK_SECRETS: JSON.stringify({ callbacks: "cb-secret-1234" }),
    });
    expect(signed.callbacks).toBeInstanceOf(HttpCallbackSender);
    expect(signed.secrets).toContain("cb-secret-1234");
    expect(deps.secrets).toEqual(expect.arrayContaining([env.VASTAI_API_KEY, env.VASTAI_SSH_PRIVATE_KEY]));
    // No Hugging Face token in this environment; with one, provisioning gives it to gated-model
    // instances and every log line is scrubbed of it.
    expect(deps.hfToken).toBeUndefined();
    const withToken = await createJobDependencies({ ...env, HF_TOKEN: "hf_push_function_token" });
    expect(withToken.hfToken).toBe("hf_push_function_token");
    expect(withToken.secrets).toContain("hf_push_function_token");
    expect(() => deps.datasets.reader({ kind: "local", path: "/tmp/x" })).toThrow(
      /only allowed in the local stack/,
    );
    expect(deps.datasets.reader({ kind: "s3", bucket: "datasets", prefix: "cats/" })).toHaveProperty(
      "entries",
    );
    const local = await createJobDependencies({
      ...env,
      ALLOW_LOCAL_DATASETS: "true",
      WORKSPACE_ROOT: "/data",
      ORPHAN_GRACE_SECONDS: "120",
      DATASET_BUCKETS: " datasets, more-datasets ,",
      DATASET_MAX_BYTES: "1000000",
    });
    expect(local.datasets.reader({ kind: "local", path: "/tmp/x" })).toHaveProperty("entries");
    expect(settingsOf(local)).toMatchObject({
      push: { workspaceRoot: "/data" },
      reaper: { orphanGraceMs: 120_000 },
      dataset: { allowedBuckets: ["datasets", "more-datasets"], maxBytes: 1_000_000 },
    });
    // "*" is the deployment's explicit "any bucket the role can read".
    const anyBucket = await createJobDependencies({ ...env, DATASET_BUCKETS: " * " });
    expect(settingsOf(anyBucket)).toMatchObject({ dataset: { allowedBuckets: null } });
  });

  it("names a missing or malformed setting without echoing any secret", async () => {
    const { ARTIFACT_BUCKET: _, ...missing } = env;
    const error = await createJobDependencies(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/ARTIFACT_BUCKET/);
    expect((error as Error).message).not.toContain(env.VASTAI_API_KEY);
    const negative = await createJobDependencies({ ...env, ORPHAN_GRACE_SECONDS: "-5" }).catch(
      (e: unknown) => e,
    );
    expect(negative).toBeInstanceOf(ConfigError);
    expect((negative as Error).message).toMatch(/ORPHAN_GRACE_SECONDS/);
  });
});

const record = (id: string, body: string, receiveCount = 1) =>
  toSqsRecord(
    {
      MessageId: id,
      ReceiptHandle: `rh-${id}`,
      Body: body,
      Attributes: { ApproximateReceiveCount: String(receiveCount) },
    },
    "arn:aws:sqs:us-east-1:000000000000:push",
  );

describe("push handler (Lambda shape)", () => {
  it("reports only the records that failed", async () => {
    const seen: string[] = [];
    // A store that knows no jobs, except one whose read fails (a throttled table, say).
    const store = {
      getJob: async (jobId: string) => {
        seen.push(jobId);
        if (jobId === "job_throttled") throw new Error("ProvisionedThroughputExceededException");
        return null;
      },
    } as unknown as JobStore;
    const deps: PushDeps = {
      store,
      events: new InMemoryEventPublisher(),
      vast: recordingDestroys([]),
      queue: new InMemoryJobQueue(),
      ssh: async () => {
        throw new Error("no SSH in this test");
      },
      datasets: fakeDatasets(),
      clock: systemClock,
      logger: silentLogger,
    };
    const handler = createPushHandler(deps);
    const response = await handler({
      Records: [
        record("m1", "not json"),
        record("m2", JSON.stringify({ type: "push", jobId: "job_gone", attempt: 1 })),
        record("m3", JSON.stringify({ type: "provision", jobId: "job_x" })),
        record("m4", JSON.stringify({ type: "push", jobId: "job_throttled", attempt: 1 }), 2),
      ],
    });
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["m1", "m3", "m4"]);
    expect(seen.sort()).toEqual(["job_gone", "job_throttled"]);
  });
});
