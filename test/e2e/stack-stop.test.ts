/**
 * Stopping the local stack (Ctrl-C on `npm start`) never leaves an instance billing: a job still
 * training is cancelled through the teardown path and its instance destroyed before the services
 * stop. With `--live` that instance is a real GPU, so this is a money invariant, not a nicety.
 */
import { afterAll, expect, it } from "vitest";
import { silentLogger } from "../../packages/core/src/observability";
import { type LocalStack, STOPPED_REASON, startLocalStack } from "../../packages/local/src";
import { SAMPLE_DATASET, sampleJobRequest } from "../../packages/local/src/sample/job";
import { submitSigned, uploadSampleDataset } from "../../packages/local/src/sample/run";
import { fetchJob } from "../../packages/local/src/status/follow";
import { pollUntil } from "../support/poll";

let stack: LocalStack | undefined;
const savedLogLevel = process.env.POWERTOOLS_LOG_LEVEL;

afterAll(async () => {
  await stack?.stop();
  if (savedLogLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = savedLogLevel;
});

it("stopping the stack mid-training cancels the job and destroys its instance first", async () => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  stack = await startLocalStack({
    logger: silentLogger,
    pollIntervalSeconds: 1,
    receiveWaitSeconds: 1,
    // Training far longer than the test: only the stop can end it.
    vast: { kind: "simulator", seed: 11, trainingSeconds: 3600, provisioningSeconds: 1, loadingSeconds: 1 },
  });
  const running = stack;
  await uploadSampleDataset(running.aws.s3, SAMPLE_DATASET);
  const { jobId } = await submitSigned(running.apiUrl, running.submissionSecret, sampleJobRequest());
  const training = await pollUntil(
    async () => {
      const view = await fetchJob(running.apiUrl, running.apiKey, jobId);
      return view.state === "training" ? view : undefined;
    },
    60_000,
    250,
  );
  expect(training?.instance?.instanceId).toBeTypeOf("number");
  const instanceId = training!.instance!.instanceId;
  const [before] = running.sim!.admin.instances().filter((i) => i.id === instanceId);
  expect(before?.destroyedAtMs).toBeNull();

  const released = await running.stop();
  stack = undefined;
  expect(released.problems).toEqual([]);
  expect(released.cancelledJobs).toEqual([jobId]);
  const [after] = running.sim!.admin.instances().filter((i) => i.id === instanceId);
  expect(after?.destroyedAtMs, "the instance is destroyed by the stop").not.toBeNull();
  expect(STOPPED_REASON).toContain("stopped");
}, 120_000);
