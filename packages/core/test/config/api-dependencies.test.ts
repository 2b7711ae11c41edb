/**
 * The API's dependencies in a deployment: credentials read through the cache, and every secret
 * read after start-up (an API key added without a redeploy) scrubbed by the same logger and
 * responses as the ones known at start-up.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { offlineJobEnvironment } from "../../../../test/support/offline-environment";
import { apiDependencies, createJobDependencies } from "../../src/config";

const env = {
  ...offlineJobEnvironment(),
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
