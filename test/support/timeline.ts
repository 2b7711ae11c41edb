/** Reading a job's timeline in tests. */
import type { JobStore } from "../../packages/core/src/store";

/** The states a job has moved through, in order (its `transition` entries). */
export async function statesVisited(store: Pick<JobStore, "getTimeline">, jobId: string) {
  return (await store.getTimeline(jobId)).filter((t) => t.kind === "transition").map((t) => t.to);
}
