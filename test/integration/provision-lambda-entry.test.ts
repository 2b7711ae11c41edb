/**
 * The exported Lambda `handler` of functions/provision.ts, wired from the environment exactly
 * as in AWS (config, secrets from the environment, Powertools Logger), against DynamoDB Local,
 * fauxqs and the simulator — and its log output checked for secrets.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { InMemoryEventPublisher } from "../../packages/core/src/events";
import { submitJob } from "../../packages/core/src/jobs/submit";
import { silentLogger } from "../../packages/core/src/observability";
import { SqsJobQueue } from "../../packages/core/src/queue";
import { DynamoJobStore } from "../../packages/core/src/store";
import { startVastSim, type VastSim } from "../../packages/vast-sim/src/index";
import { s3For, uploadSampleDataset } from "../support/datasets";
import { checkMoneyInvariants } from "../support/invariants";
import { sampleJobRequestInput } from "../support/job-request";
import { type Infra, lambdaEnvironment, startInfra } from "../support/provision-harness";
import { pumpOnce } from "../support/sqs-pump";
import { generateTestKeyPair } from "../support/ssh-keys";

let infra: Infra;
let sim: VastSim;
const saved = { ...process.env };

beforeAll(async () => {
  infra = await startInfra();
  sim = await startVastSim({ seed: 21, timeScale: 0, ssh: true });
});
afterAll(async () => {
  process.env = saved;
  await sim?.close();
  await infra?.stop();
});

describe("functions/provision.ts handler", () => {
  it("builds its dependencies from the environment, rents, and never logs a secret", async () => {
    const pair = generateTestKeyPair();
    const environment = await lambdaEnvironment(infra);
    const tableName = environment.TABLE_NAME;
    const provision = { url: environment.PROVISION_QUEUE_URL };
    const push = { url: environment.PUSH_QUEUE_URL };
    Object.assign(process.env, environment, {
      VASTAI_API_KEY: sim.apiKey,
      VASTAI_BASE_URL: sim.url,
      VASTAI_SSH_PRIVATE_KEY: pair.private,
      WEBHOOK_SECRETS: JSON.stringify({ vast: "whsec-very-secret-value" }),
      // FLUX.1-dev is gated: the token reaches the instance's environment and nowhere else.
      HF_TOKEN: "hf_lambda_entry_token_4b1d",
    });
    delete process.env.SECRET_ID;

    const s3 = s3For(infra);
    await uploadSampleDataset(s3);
    s3.destroy();
    const store = new DynamoJobStore({ client: infra.dynamo.doc, tableName });
    const { jobId } = await submitJob(
      {
        store,
        queue: new SqsJobQueue({
          client: infra.sqs.client,
          queueUrls: { provision: provision.url, push: push.url },
        }),
        events: new InMemoryEventPublisher(),
        logger: silentLogger,
      },
      sampleJobRequestInput(),
    );

    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, "write").mockImplementation(capture);
    const err = vi.spyOn(process.stderr, "write").mockImplementation(capture);
    const logSpies = (["log", "info", "warn", "error", "debug"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
        written.push(args.map(String).join(" "));
      }),
    );
    try {
      const { handler } = await import("../../functions/provision");
      const result = await pumpOnce(infra.sqs.client, provision.url, { handlers: [(e) => handler(e)] });
      expect(result).toEqual({ received: 1, failed: 0 });
    } finally {
      out.mockRestore();
      err.mockRestore();
      for (const spy of logSpies) spy.mockRestore();
    }

    const job = await store.getJob(jobId);
    expect(job).toMatchObject({ state: "booting", attempt: 1 });
    const attempt = await store.getAttempt(jobId, 1);
    expect(sim.admin.instances().map((i) => i.id)).toEqual([attempt?.instanceId]);
    // The public key derived from the private one reached the instance.
    expect(sim.admin.instances()[0]?.label).toBe(`vast-rental:${jobId}:1`);
    expect(sim.admin.instances()[0]?.vast?.extra_env).toContainEqual([
      "HF_TOKEN",
      "hf_lambda_entry_token_4b1d",
    ]);

    const logs = written.join("\n");
    expect(logs).toContain("job transition");
    for (const secret of [
      sim.apiKey,
      pair.private,
      "whsec-very-secret-value",
      "hf_lambda_entry_token_4b1d",
    ]) {
      expect(logs).not.toContain(secret);
    }
    expect((await checkMoneyInvariants(sim, store)).violations).toEqual([]);
  });
});
