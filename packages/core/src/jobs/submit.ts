/**
 * The job submission command, shared by the HTTP API and the EventBridge subscriber:
 * validate, de-duplicate on the idempotency key, store, enqueue `provision`, announce.
 * Invalid input changes nothing: it is refused before any write.
 */
import { createHash, randomBytes } from "node:crypto";
import type { CallbackSender } from "../callbacks";
import { type Clock, systemClock } from "../clock";
import type { EventPublisher } from "../events";
import type { OutboundPolicy } from "../net";
import type { Logger } from "../observability";
import type { JobQueue } from "../queue";
import type { JobStore } from "../store";
import { resolveGpuNames, resolveRegion } from "../vast";
import { announce } from "./announce";
import { type JobRequest, jobRequestSchema } from "./request";
import type { JobState } from "./state-machine";

export interface SubmitDeps {
  store: JobStore;
  queue: JobQueue;
  events: EventPublisher;
  logger: Logger;
  newJobId?: () => string;
  /** The local stack may read datasets from a local folder; the cloud intake may not. */
  allowLocalDataset?: boolean;
  clock?: Clock;
  /** Present when callbacks are configured: the job's callbackUrl hears of its submission too. */
  callbacks?: CallbackSender;
  /** Hosts a dataset or callback URL may name although not public (the local stack's); default none. */
  outbound?: OutboundPolicy;
}

export interface SubmitResult {
  jobId: string;
  status: JobState;
  /** False when the idempotency key matched an earlier, identical submission. */
  created: boolean;
}

/** The request is malformed or asks for something impossible (a 400). */
export class JobValidationError extends Error {
  override readonly name = "JobValidationError";
  constructor(
    /** What is wrong, field by field (`path` as dotted keys; empty for the request as a whole). */
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; "));
  }
}

export function newJobId(): string {
  return `job_${Date.now().toString(36)}${randomBytes(6).toString("hex")}`;
}

/** Stable JSON: object keys sorted, so equal requests hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Hash of the request as validated (defaults applied), without the idempotency key itself. */
export function requestHash(request: JobRequest): string {
  const { idempotencyKey: _key, ...rest } = request;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex");
}

/** Parses and checks a request; throws `JobValidationError` with a precise message. */
export function validateJobRequest(
  body: unknown,
  options: { allowLocalDataset?: boolean; outbound?: OutboundPolicy } = {},
): JobRequest {
  const parsed = jobRequestSchema(options.outbound).safeParse(body);
  if (!parsed.success) {
    throw new JobValidationError(
      parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join("."),
        message: issue.message,
      })),
    );
  }
  const request = parsed.data;
  if (request.dataset.kind === "local" && !options.allowLocalDataset) {
    throw new JobValidationError([
      { path: "dataset", message: "local folders are only accepted by the local stack" },
    ]);
  }
  assertKnownGpuAndRegion(request);
  return request;
}

/** A GPU type and region the offer search knows (its aliases and region groups), else JobValidationError. */
export function assertKnownGpuAndRegion(constraints: { gpuType: string; region?: string | undefined }): void {
  const issues: { path: string; message: string }[] = [];
  if (!resolveGpuNames(constraints.gpuType)) {
    issues.push({ path: "gpuType", message: `Unknown GPU type "${constraints.gpuType}"` });
  }
  if (constraints.region !== undefined && !resolveRegion(constraints.region)) {
    issues.push({
      path: "region",
      message: `Unknown region "${constraints.region}" (use a group such as US, EU or ASIA, or an ISO-3166 code)`,
    });
  }
  if (issues.length > 0) throw new JobValidationError(issues);
}

export async function submitJob(deps: SubmitDeps, body: unknown): Promise<SubmitResult> {
  const request = validateJobRequest(body, {
    allowLocalDataset: deps.allowLocalDataset,
    outbound: deps.outbound,
  });
  const jobId = (deps.newJobId ?? newJobId)();
  const { job, created } = await deps.store.createJob({ jobId, request, requestHash: requestHash(request) });
  // A repeated submission of a job that never left `queued` re-sends `provision` and announces it
  // again: the first try may have failed between storing the job and either of these, and both
  // are safe twice (provisioning is idempotent; the callback keeps its delivery id).
  const unfinished = created || job.state === "queued";
  if (unfinished) await deps.queue.enqueue({ type: "provision", jobId: job.jobId });
  if (created) deps.logger.info("job submitted", { jobId: job.jobId, gpuType: request.gpuType });
  if (unfinished) {
    await announce(
      { ...deps, clock: deps.clock ?? systemClock },
      job,
      {
        detailType: "Job Submitted",
        detail: {
          jobId: job.jobId,
          status: job.state,
          gpuType: request.gpuType,
          maxHourlyUsd: request.maxHourlyUsd,
          budgetUsd: request.budgetUsd,
        },
      },
      "submitted",
    );
  }
  return { jobId: job.jobId, status: job.state, created };
}
