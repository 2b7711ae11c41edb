/**
 * The Hugging Face token through the whole system, against the simulator. A job for FLUX.1-dev (a
 * gated model) runs from submission to its collected LoRA with a token configured: the instance
 * gets it in its environment (`HF_TOKEN`, in the create's `env`) and the training run sees it — and
 * no 8-character piece of it is in any DynamoDB item, event, log record or timeline. Vast echoing
 * the create body back in an error leaks nothing either. Without a token, the job fails before
 * anything is searched or rented.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkJobTraining, runReaper } from "../../packages/core/src/jobs";
import { createRecordingLogger } from "../../packages/core/src/observability";
import { connectSsh, shellCommand } from "../../packages/core/src/ssh";
import { jobPaths } from "../../packages/core/src/training";
import { writeDataset } from "../../packages/core/test/dataset/fixtures";
import { DATASET_BUCKET, uploadDataset } from "../support/datasets";
import { expectInvariantsHold, type Infra, useScenarios } from "../support/provision-harness";
import { type PushScenario, startPushScenario, untilJob } from "../support/push-harness";
import { everythingAbout, secretFragmentsIn } from "../support/secret-scan";

const scenarios = useScenarios(startPushScenario);
let local: string;

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), "hf-token-it-"));
  await writeDataset(local, { pairs: 6, seed: 9 });
  await uploadDataset(scenarios.infra, "hf/", local);
});
afterAll(async () => {
  await rm(local, { recursive: true, force: true });
});

const dataset = { dataset: { kind: "s3" as const, bucket: DATASET_BUCKET, prefix: "hf/" } };
const newToken = () => `hf_${randomBytes(17).toString("hex")}`;

/** Every item of every table in DynamoDB Local (this scenario's jobs table among them). */
async function everyStoredItem(infra: Infra): Promise<unknown[]> {
  const items: unknown[] = [];
  const { TableNames = [] } = await infra.dynamo.client.send(new ListTablesCommand({}));
  for (const TableName of TableNames) {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await infra.dynamo.doc.send(new ScanCommand({ TableName, ExclusiveStartKey }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
  return items;
}

/** What the system kept and said about its jobs: no piece of `token` may be in it. */
async function expectNoPieceOf(
  token: string,
  s: PushScenario,
  jobId: string,
  logger: ReturnType<typeof createRecordingLogger>,
) {
  const everything = {
    items: await everyStoredItem(scenarios.infra),
    timeline: await s.store.getTimeline(jobId),
    events: s.events.events,
    logs: logger.records,
  };
  expect(everything.items.length).toBeGreaterThan(3);
  expect(everything.logs.length).toBeGreaterThan(3);
  for (const [what, part] of Object.entries(everything)) {
    expect(secretFragmentsIn(everythingAbout(part), token), what).toEqual([]);
  }
}

describe("the Hugging Face token", () => {
  it("reaches the instance and its training run; no piece of it is stored, published or logged", async () => {
    const token = newToken();
    const logger = createRecordingLogger();
    const s = await scenarios.start({ seed: 31, hfToken: token, logger });
    // The stand-in runs in real seconds (the simulator's clock stands still): long enough to look.
    const { jobId, instanceId } = await s.jobToPushing(dataset, { durationSeconds: 3 });

    // The create gave the token to the container: Vast lists it back in extra_env.
    const view = s.base.sim.admin.instance(instanceId)?.vast;
    expect(view?.extra_env).toContainEqual(["HF_TOKEN", token]);
    // So the scan below can see the token where it is.
    expect(secretFragmentsIn(everythingAbout(view), token).length).toBeGreaterThan(0);

    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    expect((await s.store.getJob(jobId))?.state).toBe("training");
    // The run has it in its environment (ai-toolkit's model download reads HF_TOKEN).
    const attempt = await s.store.getAttempt(jobId, 1);
    const session = await connectSsh({
      host: attempt?.sshHost ?? "",
      port: attempt?.sshPort ?? 0,
      username: "root",
      privateKey: s.sshPrivateKey,
    });
    try {
      const { pidPath } = jobPaths(jobId, "/workspace");
      const seen = await session.exec(
        shellCommand`tr '\\0' '\\n' < /proc/$(cat ${pidPath})/environ | grep -cx ${`HF_TOKEN=${token}`}`,
      );
      expect(seen.stdout.trim()).toBe("1");
    } finally {
      await session.close();
    }

    const job = await untilJob(
      s.store,
      jobId,
      () => checkJobTraining(s.deps, jobId),
      (j) => j.state !== "training",
    );
    expect(job.state).toBe("succeeded");
    await runReaper(s.deps);
    expect(s.events.of("Job Succeeded")).toHaveLength(1);
    await expectNoPieceOf(token, s, jobId, logger);
    await expectInvariantsHold(s.base);
  });

  it("Vast echoing the create body (env and all) in an error leaks no piece of it", async () => {
    const token = newToken();
    const logger = createRecordingLogger();
    const creates: string[] = [];
    let proxy: { url: string; close(): Promise<void> } | undefined;
    const s = await scenarios.start({
      seed: 33,
      hfToken: token,
      logger,
      vastProxy: async (simUrl) => {
        const started = await echoingProxy(simUrl, creates);
        proxy = started;
        return started.url;
      },
    });
    try {
      const jobId = await s.base.submit(dataset);
      const job = await s.base.run(jobId, (j) => j.state === "failed", { maxRounds: 5 });
      expect(job.reason).toMatch(/^Vast refused to rent: /);
      // The create did carry the token, and the error body echoed it back.
      expect(creates.length).toBeGreaterThan(0);
      expect(JSON.parse(creates[0] ?? "{}").env).toEqual({ HF_TOKEN: token });
      await expectNoPieceOf(token, s, jobId, logger);
      expect(s.base.sim.admin.instances()).toEqual([]);
    } finally {
      await proxy?.close();
    }
  });

  it("a job for a gated model fails before any search or create when no token is configured", async () => {
    const s = await scenarios.start({ seed: 35, hfToken: null });
    s.base.sim.admin.resetRequestCounts();
    const jobId = await s.base.submit(dataset);
    const job = await s.base.run(jobId, (j) => j.state === "failed", { maxRounds: 3 });
    expect(job.reason).toBe(
      'Stopped before renting: the training template "flux-lora-24gb" downloads black-forest-labs/FLUX.1-dev, a gated model on Hugging Face, and no Hugging Face token is configured (hfToken in the deployment\'s secret).',
    );
    expect(s.base.sim.admin.requestCounts().byEndpoint).toEqual({});
    expect(s.base.sim.admin.instances()).toEqual([]);
    expect(s.events.of("Job Failed")).toHaveLength(1);
    expect((await s.store.listAttempts(jobId)).length).toBe(0);
  });
});

/** Forwards everything to the simulator, except creates: those answer 400 echoing the request body. */
async function echoingProxy(
  simUrl: string,
  creates: string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    if (req.method === "PUT" && /^\/api\/v0\/asks\/\d+\//.test(req.url ?? "")) {
      creates.push(body);
      const echoed = JSON.parse(body) as { env?: { HF_TOKEN?: string } };
      const token = echoed.env?.HF_TOKEN ?? "";
      res.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          success: false,
          error: "invalid_args",
          // Messages are cut at 500 characters: this cut leaves 10 characters of the token, which
          // only the fragment rule of the client's redactor recognises.
          msg: `${"y".repeat(490)}${token}`,
          detail: { input: echoed, env: echoed.env, again: `bad request ${body}` },
        }),
      );
      return;
    }
    const upstream = await fetch(`${simUrl}${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") ?? "application/json",
    });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
