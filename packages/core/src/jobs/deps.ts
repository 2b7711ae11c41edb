/**
 * Everything a step of the job lifecycle depends on, passed in — so the same code runs in Lambda,
 * in the local stack and in tests with a scaled clock or a fake. Each step names the slice it
 * needs; `ReaperDeps` is the union, because the reaper finishes whatever any step left undone.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { CallbackSender } from "../callbacks";
import type { Clock } from "../clock";
import type { DatasetInspection, DatasetPolicy, DatasetReader, DatasetSource } from "../dataset";
import type { EventPublisher } from "../events";
import type { OutboundPolicy } from "../net";
import { type Logger, redactSecrets } from "../observability";
import type { JobQueue } from "../queue";
import type { JobStore } from "../store";
import type { HostPreflight, SshConnector, SshProbe, VastPort } from "./ports";
import { type JobSettings, type JobSettingsOverrides, resolveSettings } from "./settings";

/** How the orchestrator reads datasets: streamed for the push, inspected before renting. */
export interface DatasetAccess {
  /** A reader for the push; throws for a source this deployment may not read (a local folder in the cloud). */
  reader(source: DatasetSource): DatasetReader;
  /** Checks the dataset without downloading it (listing, HEAD): throws `DatasetRejectedError` for
   * a dataset that can never be trained on, anything else for a failure worth retrying. */
  inspect(
    source: DatasetSource,
    options: { policy: DatasetPolicy; allowedBuckets: readonly string[] | null },
  ): Promise<DatasetInspection>;
}

export interface JobDeps {
  store: JobStore;
  vast: VastPort;
  queue: JobQueue;
  events: EventPublisher;
  clock: Clock;
  logger: Logger;
  settings?: JobSettingsOverrides;
  /** Secret values scrubbed from anything that reaches the timeline, events or logs. */
  secrets?: readonly string[];
  /** Delivers a job's signed callbacks; absent = no callbacks (no signing secret configured). */
  callbacks?: CallbackSender;
  /** Hosts datasets and callbacks may reach although not public (`OUTBOUND_ALLOW_HOSTS`). */
  outbound?: OutboundPolicy;
}

/** Provisioning and readiness. */
export interface ProvisionDeps extends JobDeps {
  probe: SshProbe;
  /** The pre-flight host check readiness runs once the probe passed, before the push. */
  preflight: HostPreflight;
  datasets: DatasetAccess;
  /**
   * The Hugging Face token (`hfToken` in the secret): given to instances whose template's model is
   * gated; without it such a job fails before renting. Must also be in `secrets` (redaction).
   */
  hfToken?: string;
}

/** The push step. */
export interface PushDeps extends JobDeps {
  ssh: SshConnector;
  datasets: DatasetAccess;
}

/** The completion check: the push's dependencies plus the artifact bucket. */
export interface CompletionDeps extends PushDeps {
  s3: S3Client;
  artifactBucket: string;
}

/** The reaper runs every step's checks. */
export interface ReaperDeps extends CompletionDeps, ProvisionDeps {}

export function settingsOf(deps: Pick<JobDeps, "settings">): JobSettings {
  return resolveSettings(deps.settings);
}

/** Scrubs the known secret values out of text bound for the store, the timeline or events. */
export function redactFor(deps: Pick<JobDeps, "secrets">): (text: string) => string {
  return (text) => redactSecrets(text, deps.secrets ?? []);
}
