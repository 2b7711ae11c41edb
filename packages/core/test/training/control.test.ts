import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localS3Client } from "../../../../test/support/fauxqs";
import { startSshd, type TestSshd } from "../../../../test/support/sshd";
import { localDatasetReader, pushDataset } from "../../src/dataset";
import { connectSsh, type SshSession, shellCommand } from "../../src/ssh";
import {
  ArtifactError,
  checkTraining,
  collectArtifact,
  jobPaths,
  launchTraining,
  parseTrainingRequest,
  pushAndLaunch,
  type TrainingCheck,
} from "../../src/training";
import { writeDataset } from "../dataset/fixtures";
import { installFakeToolkit } from "./fake-toolkit";

const python = "python3";
/** The fake ai-toolkit of a workspace (installFakeToolkit), in place of the template's /app/ai-toolkit. */
const toolkitOf = (workspaceRoot: string) => join(workspaceRoot, "ai-toolkit");

describe("remote training control against a real sshd", () => {
  let sshd: TestSshd;
  let session: SshSession;
  let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
  let s3: S3Client;
  let local: string;
  let ws: string;

  beforeAll(async () => {
    [sshd, fauxqs] = await Promise.all([startSshd(), startFauxqs({ port: 0, logger: false })]);
    ws = sshd.workspaceRoot;
    await installFakeToolkit(ws);
    session = await connectSsh({ ...sshd, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
    s3 = localS3Client(`http://127.0.0.1:${fauxqs.port}`);
    await s3.send(new CreateBucketCommand({ Bucket: "artifacts" }));
    local = await mkdtemp(join(tmpdir(), "training-test-"));
    await writeDataset(local, { pairs: 20, seed: 3 });
  });
  afterAll(async () => {
    await session?.close();
    await sshd?.close();
    s3?.destroy();
    await fauxqs?.stop();
    await rm(local, { recursive: true, force: true });
  });

  const request = (triggerWord: string) => parseTrainingRequest({ params: { triggerWord, steps: 100 } });
  const until = async (jobId: string, done: (c: TrainingCheck) => boolean): Promise<TrainingCheck> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const check = await checkTraining(session, { jobId, workspaceRoot: ws });
      if (done(check)) return check;
      if (Date.now() > deadline) throw new Error(`timed out waiting on ${jobId}: ${JSON.stringify(check)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it("reports not_started for a job that was never launched", async () => {
    const check = await checkTraining(session, { jobId: "never", workspaceRoot: ws });
    expect(check).toMatchObject({
      status: "not_started",
      exitCode: null,
      progress: null,
      pid: null,
      logTail: "",
      launched: false,
    });
  });

  it("push + launch, then a redelivered push neither re-sends nor restarts; success yields the artifact in S3", async () => {
    const jobId = "job-ok";
    const options = {
      jobId,
      workspaceRoot: ws,
      reader: localDatasetReader(local),
      request: request("slow_ok"),
      python,
      toolkitDir: toolkitOf(ws),
    };
    const first = await pushAndLaunch(session, { ...options, heartbeatIntervalSeconds: 1 });
    expect(first.pushed).toBe(true);
    expect(first.launch).toMatchObject({ started: true, alreadyStarted: false });
    expect(first.launch.pid).toBeGreaterThan(0);
    const paths = jobPaths(jobId, ws);
    expect(await readFile(paths.configPath, "utf8")).toContain(`folder_path: ${paths.datasetDir}`);
    const markerBefore = await stat(join(paths.datasetDir, ".dataset-verified"));

    const running = await until(jobId, (c) => c.progress?.step === 10);
    expect(running.status).toBe("running");
    expect(running.pid).toBe(first.launch.pid);
    expect(running.heartbeatAgeSeconds).toBeLessThanOrEqual(2);
    expect(running.progress).toEqual({ step: 10, totalSteps: 10 });
    expect(running.launched).toBe(true);

    const again = await pushAndLaunch(session, { ...options, expectedManifestSha256: first.manifestSha256! });
    expect(again.pushed).toBe(false);
    expect(again.trainingStatusBefore).toBe("running");
    expect(again.launch).toMatchObject({ started: false, alreadyStarted: true, pid: first.launch.pid });
    expect(again.manifestSha256).toBe(first.manifestSha256);
    const markerAfter = await stat(join(paths.datasetDir, ".dataset-verified"));
    expect(markerAfter.ino).toBe(markerBefore.ino);
    expect(markerAfter.mtimeMs).toBe(markerBefore.mtimeMs);

    await writeFile(join(paths.jobDir, "release"), "");
    const done = await until(jobId, (c) => c.status !== "running");
    expect(done).toMatchObject({ status: "succeeded", exitCode: 0 });
    expect(done.logTail).toContain("Saved job-ok.safetensors");

    const artifact = await collectArtifact(session, {
      jobId,
      workspaceRoot: ws,
      s3,
      bucket: "artifacts",
      key: "loras/job-ok.safetensors",
    });
    const localFile = await readFile(join(paths.trainingFolder, jobId, `${jobId}.safetensors`));
    const expectedHash = createHash("sha256").update(localFile).digest("hex");
    expect(artifact).toMatchObject({
      bytes: localFile.length,
      sha256: expectedHash,
      key: "loras/job-ok.safetensors",
    });
    expect(artifact.remotePath.endsWith(`/${jobId}/${jobId}.safetensors`)).toBe(true);
    const object = await s3.send(
      new GetObjectCommand({ Bucket: "artifacts", Key: "loras/job-ok.safetensors" }),
    );
    const stored = Buffer.from(await object.Body!.transformToByteArray());
    expect(createHash("sha256").update(stored).digest("hex")).toBe(expectedHash);
    expect(object.Metadata?.sha256).toBe(expectedHash);
  });

  it("resumes at the launch when the dataset is already there (crash between push and launch)", async () => {
    const jobId = "job-resume";
    const pushed = await pushDataset(session, {
      jobId,
      workspaceRoot: ws,
      reader: localDatasetReader(local),
    });
    const result = await pushAndLaunch(session, {
      jobId,
      workspaceRoot: ws,
      reader: localDatasetReader(join(local, "does-not-exist")),
      request: request("quick"),
      python,
      toolkitDir: toolkitOf(ws),
    });
    expect(result).toMatchObject({ pushed: false, manifestSha256: pushed.manifestSha256 });
    expect(result.launch.started).toBe(true);
    await until(jobId, (c) => c.status === "succeeded");
  });

  it("concurrent launches start training exactly once", async () => {
    const jobId = "job-race";
    const { yaml } = await import("../../src/training").then((t) =>
      t.renderTrainingConfig(request("slow_race"), { jobId, workspaceRoot: ws }),
    );
    const others = await Promise.all(
      Array.from({ length: 3 }, () =>
        connectSsh({ ...sshd, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 5 } }),
      ),
    );
    try {
      const results = await Promise.all(
        [session, ...others].map((s) =>
          launchTraining(s, {
            jobId,
            workspaceRoot: ws,
            configYaml: yaml,
            python,
            toolkitDir: toolkitOf(ws),
          }),
        ),
      );
      expect(results.filter((r) => r.started)).toHaveLength(1);
      const winner = results.find((r) => r.started)!;
      const { stdout } = await session.exec(
        `pgrep -f -c ${JSON.stringify(`run.py ${jobPaths(jobId, ws).configPath}`)}`,
      );
      expect(Number(stdout.trim())).toBe(1);
      await writeFile(join(jobPaths(jobId, ws).jobDir, "release"), "");
      const done = await until(jobId, (c) => c.status !== "running");
      expect(done.pid).toBe(winner.pid);
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });

  it("detects a failed run with its exit code and log tail", async () => {
    const jobId = "job-fail";
    const { yaml } = (await import("../../src/training")).renderTrainingConfig(request("fail_oom"), {
      jobId,
      workspaceRoot: ws,
    });
    await launchTraining(session, {
      jobId,
      workspaceRoot: ws,
      configYaml: yaml,
      python,
      toolkitDir: toolkitOf(ws),
    });
    const failed = await until(jobId, (c) => c.status !== "running" && c.status !== "not_started");
    expect(failed).toMatchObject({ status: "failed", exitCode: 1, progress: { step: 4, totalSteps: 10 } });
    expect(failed.logTail).toContain("CUDA out of memory");
    const error = await collectArtifact(session, {
      jobId,
      workspaceRoot: ws,
      s3,
      bucket: "artifacts",
      key: "x",
    }).catch((e) => e);
    expect(error).toBeInstanceOf(ArtifactError);
  });

  it("a run killed without an exit code is reported failed, not running", async () => {
    const jobId = "job-killed";
    const { yaml } = (await import("../../src/training")).renderTrainingConfig(request("slow_kill"), {
      jobId,
      workspaceRoot: ws,
    });
    const launched = await launchTraining(session, {
      jobId,
      workspaceRoot: ws,
      configYaml: yaml,
      python,
      toolkitDir: toolkitOf(ws),
    });
    await session.exec(shellCommand`kill -9 ${launched.pid ?? 0}`);
    const check = await until(jobId, (c) => c.status !== "running");
    expect(check.status).toBe("failed");
    expect(check.exitCode).toBeNull();
    expect(check.reason).toMatch(/gone/);
    await session.exec(shellCommand`pkill -f ${jobPaths(jobId, ws).configPath} || true`);
  });

  it("quotes hostile workspace roots and refuses unsafe job ids before any remote command", async () => {
    await expect(
      launchTraining(session, {
        jobId: "a;reboot",
        workspaceRoot: ws,
        configYaml: "x",
        python,
        toolkitDir: toolkitOf(ws),
      }),
    ).rejects.toThrow(/job id/);
    const weird = join(ws, "it's $(weird) `dir`");
    await installFakeToolkit(weird);
    const jobId = "job-weird";
    const { yaml } = (await import("../../src/training")).renderTrainingConfig(request("quick"), {
      jobId,
      workspaceRoot: weird,
    });
    const launched = await launchTraining(session, {
      jobId,
      workspaceRoot: weird,
      configYaml: yaml,
      python,
      toolkitDir: toolkitOf(weird),
    });
    expect(launched.started).toBe(true);
    const done = await until2(session, jobId, weird);
    expect(done.status).toBe("succeeded");
  });
});

async function until2(session: SshSession, jobId: string, workspaceRoot: string): Promise<TrainingCheck> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const check = await checkTraining(session, { jobId, workspaceRoot });
    if (check.status === "succeeded" || check.status === "failed") return check;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(check)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
