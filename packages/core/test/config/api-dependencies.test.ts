/**
 * The API's dependencies in a deployment: credentials read through the cache, and every secret
 * read after start-up (an API key added without a redeploy) scrubbed by the same logger and
 * responses as the ones known at start-up.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { generateTestKeyPair } from "../../../../test/support/ssh-keys";
import { apiDependencies, createJobDependencies } from "../../src/config";

const env = {
  TABLE_NAME: "jobs",
  PROVISION_QUEUE_URL: "http://127.0.0.1:1/000000000000/provision",
  PUSH_QUEUE_URL: "http://127.0.0.1:1/000000000000/push",
  EVENT_BUS_NAME: "bus",
  VASTAI_API_KEY: "vast-key-0123456789abcdef",
  VASTAI_SSH_PRIVATE_KEY: generateTestKeyPair().private,
  ARTIFACT_BUCKET: "loras",
  AWS_REGION: "us-east-1",
  API_KEYS: JSON.stringify({ ops: "ops-key-at-start-0123456789" }),
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe("apiDependencies", () => {
  it("scrubs a key added to the secret after start-up from the logs", async () => {
    const deps = await createJobDependencies(env);
    const late = "late-key-added-later-0123456789";
    const live = { ...env, API_KEYS: JSON.stringify({ ops: "ops-key-at-start-0123456789", ci: late }) };
    const api = apiDependencies(deps, live);
    expect(deps.secrets).not.toContain(late);

    const credentials = await api.credentials();
    expect(Object.keys(credentials.apiKeys)).toEqual(["ops", "ci"]);
    expect(deps.secrets).toContain(late);
    expect(api.secrets).toBe(deps.secrets);

    const written: string[] = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, "write").mockImplementation((chunk) => {
        written.push(String(chunk));
        return true;
      });
    }
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        written.push(args.map(String).join(" "));
      });
    }
    deps.logger.warn("a caller sent", { header: `Bearer ${late}` });
    expect(written.join("\n")).toContain("a caller sent");
    expect(written.join("\n")).not.toContain(late.slice(0, 12));
  });
});
