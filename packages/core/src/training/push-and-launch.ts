/**
 * What the push handler does with an instance, made idempotent: if training already started,
 * nothing is touched (re-pushing a dataset under a running trainer would corrupt it); if a
 * verified dataset is already there, it is not sent again; then the config is rendered and the
 * run launched (at most once, guarded on the instance). A redelivered message is therefore a
 * cheap no-op, and a crash between push and launch resumes at the launch.
 */
import type { Clock } from "../clock";
import type { DatasetCompression, DatasetReader, PushDatasetResult, PushProgress } from "../dataset";
import { pushDataset, readDatasetMarker } from "../dataset";
import { type Logger, silentLogger } from "../observability";
import type { SshSession } from "../ssh";
import { checkTraining, type TrainingStatus } from "./check";
import { type LaunchResult, launchTraining } from "./launch";
import { DEFAULT_WORKSPACE_ROOT, jobPaths } from "./paths";
import { renderTrainingConfig, templateFor } from "./templates";

export interface PushAndLaunchOptions {
  jobId: string;
  workspaceRoot?: string;
  reader: DatasetReader;
  /** The job's training request (a stored one: its parameters are checked again when rendered). */
  request: { template: string; params: unknown };
  /** Manifest hash recorded by an earlier push; a dataset with a different one is re-sent. */
  expectedManifestSha256?: string;
  compression?: DatasetCompression;
  /** The dataset's payload size when known (listing sources): the instance checks its free disk first. */
  announcedBytes?: number;
  /** Overrides of the template's `image.toolkitDir` and `image.python` (tests on a plain sshd). */
  toolkitDir?: string;
  python?: string;
  heartbeatIntervalSeconds?: number;
  onProgress?: (progress: PushProgress) => void;
  clock?: Clock;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface PushAndLaunchResult {
  /** What was found before acting. */
  trainingStatusBefore: TrainingStatus;
  pushed: boolean;
  push?: PushDatasetResult;
  /** Hash of the dataset on the instance (null only if training had started before we looked). */
  manifestSha256: string | null;
  launch: LaunchResult;
}

export async function pushAndLaunch(
  session: SshSession,
  options: PushAndLaunchOptions,
): Promise<PushAndLaunchResult> {
  const logger = options.logger ?? silentLogger;
  const workspaceRoot = options.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT;
  const paths = jobPaths(options.jobId, workspaceRoot);
  const { image } = templateFor(options.request);
  const before = await checkTraining(session, { jobId: options.jobId, workspaceRoot });
  const launchOptions = {
    jobId: options.jobId,
    workspaceRoot,
    toolkitDir: options.toolkitDir ?? image.toolkitDir,
    python: options.python ?? image.python,
    heartbeatIntervalSeconds: options.heartbeatIntervalSeconds,
    logger,
  };
  if (before.launched || before.status !== "not_started") {
    logger.info("training already launched; not pushing", { jobId: options.jobId, status: before.status });
    const launch = await launchTraining(session, { ...launchOptions, configYaml: "" });
    return {
      trainingStatusBefore: before.status,
      pushed: false,
      manifestSha256: await readDatasetMarker(session, paths.datasetDir),
      launch,
    };
  }

  let manifestSha256 = await readDatasetMarker(session, paths.datasetDir);
  let push: PushDatasetResult | undefined;
  const present =
    manifestSha256 !== null &&
    (options.expectedManifestSha256 === undefined || manifestSha256 === options.expectedManifestSha256);
  if (present) {
    logger.info("dataset already on the instance; not re-sending", { jobId: options.jobId, manifestSha256 });
  } else {
    push = await pushDataset(session, {
      jobId: options.jobId,
      workspaceRoot,
      reader: options.reader,
      compression: options.compression,
      announcedBytes: options.announcedBytes,
      onProgress: options.onProgress,
      clock: options.clock,
      logger,
      signal: options.signal,
    });
    manifestSha256 = push.manifestSha256;
  }
  const { yaml } = renderTrainingConfig(options.request, { jobId: options.jobId, workspaceRoot });
  const launch = await launchTraining(session, { ...launchOptions, configYaml: yaml });
  return { trainingStatusBefore: before.status, pushed: push !== undefined, push, manifestSha256, launch };
}
