/**
 * Dependencies and tunables of the push step (dataset → instance, training launch) and of the
 * completion check that follows it. Both talk to the rented instance over SSH with the pinned
 * host key; completion also needs S3 for the artifact. Either may end a job, so both may notify
 * the job's callback.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Clock } from "../clock";
import type { DatasetCompression, DatasetReader, DatasetSource } from "../dataset";
import type { EventPublisher } from "../events";
import type { Logger } from "../observability";
import type { JobQueue } from "../queue";
import type { SshSession } from "../ssh";
import type { AttemptRecord, JobStore } from "../store";
import type { Notifier } from "./completion-notifier";
import type { VastPort } from "./ports";

export interface SshConnectTarget {
  host: string;
  port: number;
  /** The fingerprint pinned for the attempt; a different host key must be refused. */
  expectedHostKey?: string;
}

/** Opens a session to an instance with the orchestrator's key (retries and timeouts built in). */
export type SshConnector = (target: SshConnectTarget) => Promise<SshSession>;

/** Where the attempt's instance answers SSH, with the host key pinned at readiness. */
export function sshTargetOf(record: AttemptRecord): SshConnectTarget {
  if (!record.sshHost || record.sshPort === null) {
    throw new Error(`attempt ${record.attempt} of job ${record.jobId} has no SSH endpoint recorded`);
  }
  return {
    host: record.sshHost,
    port: record.sshPort,
    expectedHostKey: record.hostKeyFingerprint ?? undefined,
  };
}

export interface PushSettings {
  /** How long one push may hold the job: longer than the push Lambda's timeout (15 min). */
  leaseMs: number;
  /** Deliveries of one push message before a failure ends the job instead of retrying (the
   * push queue's DLQ `maxReceiveCount`): a message must not reach the DLQ with a GPU billing. */
  maxDeliveries: number;
  workspaceRoot: string;
  /** Interpreter for ai-toolkit's run.py on the instance. */
  python: string;
  heartbeatIntervalSeconds: number;
  compression: DatasetCompression;
  /** A dataset needs at least this many images. */
  minImages: number;
  /** Share of images without a `.txt` caption above which the dataset is refused (0..1). */
  maxMissingCaptionRatio: number;
  /** Minimum interval between progress log lines while pushing. */
  progressLogIntervalMs: number;
}

export const DEFAULT_PUSH_SETTINGS: PushSettings = {
  leaseMs: 16 * 60_000,
  maxDeliveries: 3,
  workspaceRoot: "/workspace",
  python: "python",
  heartbeatIntervalSeconds: 30,
  compression: "none",
  minImages: 1,
  maxMissingCaptionRatio: 0.5,
  progressLogIntervalMs: 5_000,
};

export interface PushDeps {
  store: JobStore;
  events: EventPublisher;
  /** Used to destroy instances (and, after an abandoned attempt, to start the next one). */
  vast: Pick<VastPort, "terminateInstance">;
  queue: JobQueue;
  ssh: SshConnector;
  /** Builds the reader for a job's dataset source; refuses `local` outside the local stack. */
  datasets: (source: DatasetSource) => DatasetReader;
  clock: Clock;
  logger: Logger;
  settings?: Partial<PushSettings>;
  /** Secret values scrubbed from anything that reaches the timeline. */
  secrets?: readonly string[];
  /** Tells the job's callbackUrl how it ended; absent = no callbacks. */
  notifier?: Notifier;
}

export interface CompletionSettings {
  /** How long one completion check may hold the job (collecting streams the artifact). */
  leaseMs: number;
  /** A running job whose heartbeat is older than this is considered hung. */
  staleHeartbeatSeconds: number;
  /** Progress is written to the timeline only when it moved by at least this share of the run. */
  progressRecordFraction: number;
  /** Lines of train.log kept in the timeline when a run fails. */
  logTailLines: number;
  /** Extra time past the job's deadline to finish collecting an artifact already trained. */
  collectGraceMs: number;
}

export const DEFAULT_COMPLETION_SETTINGS: CompletionSettings = {
  leaseMs: 10 * 60_000,
  staleHeartbeatSeconds: 600,
  progressRecordFraction: 0.1,
  logTailLines: 40,
  collectGraceMs: 30 * 60_000,
};

export interface CompletionDeps extends PushDeps {
  s3: S3Client;
  artifactBucket: string;
  completion?: Partial<CompletionSettings>;
}

export function pushSettingsOf(deps: PushDeps): PushSettings {
  return { ...DEFAULT_PUSH_SETTINGS, ...deps.settings };
}

export function completionSettingsOf(deps: CompletionDeps): CompletionSettings {
  return { ...DEFAULT_COMPLETION_SETTINGS, ...deps.completion };
}
