/**
 * Takes a fresh job to a given state through the real steps on a push scenario (DynamoDB Local,
 * fauxqs, the simulator): for tests that end a job from each state it can be ended from.
 */
import type { JobState } from "../../packages/core/src/jobs";
import type { PushScenario } from "./push-harness";

/** Submits a job and drives it to `state` (collecting: its run finished, not yet harvested). */
export async function driveTo(s: PushScenario, state: JobState): Promise<string> {
  if (state === "queued") return await s.base.submit();
  if (state === "provisioning") {
    // Stopped between the attempt's record and its create: the create never answers.
    await s.base.sim.admin.addFault({ kind: "late_create", delaySeconds: 10_000, times: 1 });
    const jobId = await s.base.submit();
    await s.base.pump();
    return jobId;
  }
  if (state === "booting") {
    const jobId = await s.base.submit();
    await s.base.pump();
    return jobId;
  }
  const { jobId } = await s.jobToPushing({}, { durationSeconds: 600 });
  if (state === "pushing") return jobId;
  await s.pumpPush();
  if (state === "training") return jobId;
  const job = await s.store.getJob(jobId);
  await s.store.transition(jobId, job?.version ?? -1, { type: "training_finished", reason: "test" });
  return jobId;
}
