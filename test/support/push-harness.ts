/**
 * The push and completion steps wired for integration tests, on top of the provision harness:
 * a job is taken through the real provision handler to `pushing` on a simulator instance (real
 * SSH), then the real push handler (`functions/push-dataset.ts`) is fed from fauxqs's push
 * queue, and the completion check runs against the same instance, storing artifacts in fauxqs's
 * S3. Also a seeded job in `pushing` on the real OpenSSH sshd, for checks that look at the disk.
 */
import { randomBytes } from "node:crypto";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { createPushHandler, type PushHandler } from "../../functions/push-dataset";
import type { Clock } from "../../packages/core/src/clock";
import { InMemoryEventPublisher } from "../../packages/core/src/events";
import type {
  CompletionDeps,
  CompletionSettings,
  DatasetAccess,
  PushSettings,
  ReaperDeps,
  SshConnector,
  VastPort,
} from "../../packages/core/src/jobs";
import type { JobRequestInput } from "../../packages/core/src/jobs/request";
import { StoredJobRequestSchema } from "../../packages/core/src/jobs/request";
import { type Logger, silentLogger } from "../../packages/core/src/observability";
import { InMemoryJobQueue } from "../../packages/core/src/queue";
import { connectSsh } from "../../packages/core/src/ssh";
import type { DynamoJobStore, JobRecord, JobStore } from "../../packages/core/src/store";
import { jobPaths } from "../../packages/core/src/training";
import { destroyedInstance } from "../../packages/core/src/vast";
import { ARTIFACT_BUCKET, ensureBuckets, s3For } from "./datasets";
import { pollUntil } from "./poll";
import { untilProcessExits } from "./process-exit";
import type { Infra, Scenario, ScenarioOptions } from "./provision-harness";
import { startScenario } from "./provision-harness";
import { type PumpResult, pumpOnce, type SqsHandler } from "./sqs-pump";
import { generateTestKeyPair } from "./ssh-keys";
import type { TestSshd } from "./sshd";

/** A store whose `method` throws (after doing nothing) the next `times` calls: a crash between side effects. */
export function crashingStore<K extends keyof JobStore>(store: JobStore, method: K, times = 1): JobStore {
  let left = times;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (prop === method && left > 0) {
        return async () => {
          left--;
          throw new Error(`simulated crash before ${String(method)}`);
        };
      }
      return value.bind(target);
    },
  });
}

/**
 * A store whose listed methods are replaced (each override receives the real store, to call
 * through): for putting another writer's step exactly between two of ours.
 */
export function storeWith(
  store: JobStore,
  overrides: {
    [K in keyof JobStore]?: (real: JobStore, ...args: Parameters<JobStore[K]>) => ReturnType<JobStore[K]>;
  },
): JobStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      const override = overrides[prop as keyof JobStore] as
        | ((real: JobStore, ...args: unknown[]) => unknown)
        | undefined;
      return override ? (...args: unknown[]) => override(target, ...args) : value.bind(target);
    },
  });
}

export interface PushScenarioOptions extends ScenarioOptions {
  push?: Partial<PushSettings>;
  completion?: Partial<CompletionSettings>;
  logger?: Logger;
}

export interface PushScenario {
  base: Scenario;
  store: DynamoJobStore;
  events: InMemoryEventPublisher;
  s3: S3Client;
  pushQueueUrl: string;
  /** Every step's dependencies (the reaper's): provision's, plus SSH sessions, S3 and the artifact bucket. */
  deps: ReaperDeps;
  /** The push step's SSH private key (for secret-hygiene checks). */
  sshPrivateKey: string;
  handler: PushHandler;
  /** A push handler over other deps (e.g. a crashing store). */
  handlerWith(overrides: Partial<ReaperDeps>): PushHandler;
  pumpPush(handlers?: SqsHandler[]): Promise<PumpResult>;
  /** Submits a job and runs provisioning until it is `pushing`; the instance trains for `trainingSeconds`.
   * Returns the instance of the attempt that reached `pushing`. */
  jobToPushing(
    overrides?: Partial<JobRequestInput>,
    training?: { durationSeconds?: number; fail?: boolean; failMessage?: string; holdAfterTicks?: number },
  ): Promise<{ jobId: string; instanceId: number }>;
  invariants(): Promise<string[]>;
  close(): Promise<void>;
}

async function pushQueueUrls(infra: Infra): Promise<Set<string>> {
  const out = await infra.sqs.client.send(new ListQueuesCommand({ QueueNamePrefix: "push-" }));
  return new Set(out.QueueUrls ?? []);
}

export async function startPushScenario(
  infra: Infra,
  options: PushScenarioOptions = {},
): Promise<PushScenario> {
  const before = await pushQueueUrls(infra);
  const base = await startScenario(infra, options);
  const created = [...(await pushQueueUrls(infra))].filter((url) => !before.has(url));
  if (created.length !== 1) throw new Error(`expected one new push queue, found ${created.length}`);
  const pushQueueUrl = created[0]!;
  const s3 = s3For(infra);
  await ensureBuckets(s3);
  // The orchestrator's key in this harness is private to the provision harness; the push step
  // uses its own key, attached to each instance the way a late-added Vast key is.
  const pair = generateTestKeyPair("push@test");
  const ssh: SshConnector = (target) =>
    connectSsh({
      ...target,
      username: "root",
      privateKey: pair.private,
      retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
      readyTimeoutMs: 5_000,
    });
  const deps: ReaperDeps = {
    store: base.store,
    events: base.events,
    vast: base.deps.vast,
    queue: base.deps.queue,
    clock: base.deps.clock,
    logger: options.logger ?? silentLogger,
    secrets: base.deps.secrets,
    probe: base.deps.probe,
    ...(base.deps.hfToken ? { hfToken: base.deps.hfToken } : {}),
    preflight: base.deps.preflight,
    ssh,
    datasets: base.deps.datasets,
    s3,
    artifactBucket: ARTIFACT_BUCKET,
    ...(base.deps.callbacks ? { callbacks: base.deps.callbacks } : {}),
    settings: {
      ...base.deps.settings,
      push: { heartbeatIntervalSeconds: 1, progressLogIntervalMs: 0, ...options.push },
      completion: options.completion,
    },
  };
  const handler = createPushHandler(deps);
  return {
    base,
    store: base.store,
    events: base.events,
    s3,
    pushQueueUrl,
    deps,
    sshPrivateKey: pair.private,
    handler,
    handlerWith: (overrides) => createPushHandler({ ...deps, ...overrides }),
    pumpPush: (handlers = [handler]) => pumpOnce(infra.sqs.client, pushQueueUrl, { handlers }),
    async jobToPushing(overrides = {}, training = {}) {
      const jobId = await base.submit(overrides);
      const pushing = await base.run(jobId, (j) => j.state === "pushing");
      // The attempt that got there (an earlier one may have failed its host's pre-flight check).
      const attempt = await base.store.getAttempt(jobId, pushing.attempt);
      const instanceId = attempt?.instanceId;
      if (!instanceId) throw new Error("no instance recorded");
      await base.service.client.attachSshKey(instanceId, pair.public);
      await base.sim.admin.setTrainingBehaviour(instanceId, { durationSeconds: 1, ...training });
      return { jobId, instanceId };
    },
    async invariants() {
      return (await base.invariants()).violations;
    },
    async close() {
      s3.destroy();
      await base.close();
    },
  };
}

/** Waits until the run of `jobId` on a simulator instance has written its exit code (real time). */
export async function untilTrainingExited(
  s: PushScenario,
  instanceId: number,
  jobId: string,
  timeoutMs = 10_000,
): Promise<void> {
  const rootDir = s.base.sim.admin.instance(instanceId)?.rootDir;
  if (!rootDir) throw new Error(`no instance ${instanceId}`);
  const exitCode = join(rootDir, "jobs", jobId, "exit_code");
  const written = await pollUntil(
    () =>
      access(exitCode).then(
        () => true,
        () => undefined,
      ),
    timeoutMs,
    20,
  );
  if (!written) throw new Error(`the run of ${jobId} wrote no exit code in ${timeoutMs} ms`);
}

/** Polls the completion check (real seconds: the training stand-in runs in real time). */
export async function untilJob(
  store: JobStore,
  jobId: string,
  step: () => Promise<unknown>,
  done: (job: JobRecord) => boolean,
  timeoutMs = 20_000,
): Promise<JobRecord> {
  const seen: { job: JobRecord | null } = { job: null };
  const job = await pollUntil(
    async () => {
      await step();
      seen.job = await store.getJob(jobId);
      return seen.job && done(seen.job) ? seen.job : undefined;
    },
    timeoutMs,
    100,
  );
  if (!job) throw new Error(`timed out; job is ${seen.job?.state}`);
  return job;
}

export interface SshdJob {
  jobId: string;
  deps: CompletionDeps;
  destroyed: number[];
  queue: InMemoryJobQueue;
  workspaceRoot: string;
  /** Waits for the job's training run (if any) to end, then removes its workspace. */
  cleanup(): Promise<void>;
}

let seededJobs = 0;

/**
 * A job seeded straight into `pushing` on the real sshd: attempt 1 "rented" as instance 9000+n,
 * its SSH endpoint and host key recorded as the readiness step would. The Vast port only records
 * destroys; `datasets` is the test's reader factory.
 */
export async function seedPushingJobOnSshd(
  store: DynamoJobStore,
  sshd: TestSshd,
  options: {
    request: JobRequestInput;
    datasets: DatasetAccess;
    clock: Clock;
    s3: S3Client;
    push?: Partial<PushSettings>;
  },
): Promise<SshdJob> {
  const jobId = `job_${randomBytes(6).toString("hex")}`;
  const request = StoredJobRequestSchema.parse(options.request);
  let job = (await store.createJob({ jobId, request, requestHash: randomBytes(8).toString("hex") })).job;
  job = await store.transition(jobId, job.version, { type: "provision_started", reason: "test" });
  job = await store.recordAttemptStarted(jobId, job.version, {
    attempt: 1,
    offerId: 1,
    machineId: 77,
    hourlyUsd: 0.5,
    gpuName: "RTX 4090",
    label: `vast-rental:${jobId}:1`,
  });
  // Distinct per seeded job: the store refuses an instance id another job already holds.
  const instanceId = 9000 + ++seededJobs;
  await store.recordInstanceId(jobId, 1, instanceId);
  job = await store.transition(jobId, job.version, { type: "instance_created", reason: "test" });
  await store.updateAttempt(jobId, 1, { outcome: "ready", sshHost: sshd.host, sshPort: sshd.port });
  await store.pinHostKey(jobId, 1, sshd.hostKeyFingerprint);
  await store.transition(jobId, job.version, { type: "instance_ready", reason: "test" });

  const destroyed: number[] = [];
  const queue = new InMemoryJobQueue();
  const workspace = await mkdtemp(join(sshd.workspaceRoot, "ws-"));
  const deps: CompletionDeps = {
    store,
    events: new InMemoryEventPublisher(),
    vast: recordingDestroys(destroyed),
    queue,
    clock: options.clock,
    logger: silentLogger,
    ssh: (target) =>
      connectSsh({
        ...target,
        username: sshd.username,
        privateKey: sshd.privateKey,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
      }),
    datasets: options.datasets,
    s3: options.s3,
    artifactBucket: ARTIFACT_BUCKET,
    settings: {
      // The fake ai-toolkit (installFakeToolkit) lives in the workspace, not at the template's /app.
      push: {
        workspaceRoot: workspace,
        python: "python3",
        toolkitDir: join(workspace, "ai-toolkit"),
        heartbeatIntervalSeconds: 1,
        ...options.push,
      },
    },
  };
  return {
    jobId,
    deps,
    destroyed,
    queue,
    workspaceRoot: workspace,
    async cleanup() {
      // A run still finishing writes into the workspace: let it end before removing it.
      const pid = Number((await readFile(jobPaths(jobId, workspace).pidPath, "utf8").catch(() => "")).trim());
      if (pid > 0) await untilProcessExits(pid);
      await rm(workspace, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
    },
  };
}

/**
 * A Vast port for jobs seeded on the real sshd (no Vast behind them): destroys are recorded, an
 * instance once destroyed reads as gone, and anything else is a test bug.
 */
export function recordingDestroys(destroyed: number[]): VastPort {
  const unexpected = (what: string) => async (): Promise<never> => {
    throw new Error(`this test's Vast port does not ${what}`);
  };
  return {
    searchOffers: unexpected("search offers"),
    provisionInstance: unexpected("rent"),
    findInstanceByLabel: unexpected("look labels up"),
    listInstances: unexpected("list instances"),
    getInstanceLogs: unexpected("read logs"),
    authorizeSshKey: unexpected("attach keys"),
    stopInstance: unexpected("stop instances"),
    startInstance: unexpected("start instances"),
    terminateInstance: async (id: number) => {
      destroyed.push(id);
    },
    getInstanceStatus: async (id: number) => ({
      ...destroyedInstance(id),
      state: destroyed.includes(id) ? "destroyed" : "running",
    }),
  };
}
