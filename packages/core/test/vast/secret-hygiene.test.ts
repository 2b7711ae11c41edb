import { inspect } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { VastAIError } from "../../src/vast";
import { failure, TEST_API_KEY, testClient } from "./support/fixtures";
import { type ScriptedServer, startScriptedServer } from "./support/scripted-server";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

/** Every way an error could leak: message, stack, cause chain, own fields, util.inspect. */
function everythingAbout(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 10 })];
  let current: unknown = error;
  while (current instanceof Error) {
    parts.push(current.message, current.stack ?? "", JSON.stringify({ ...current }));
    current = current.cause;
  }
  return parts.join("\n");
}

describe("the API key never leaks", () => {
  it("is redacted from error bodies that echo the Authorization header", async () => {
    server.on("GET", "/api/v0/instances/1/", (req) => ({
      status: 401,
      json: { success: false, error: "auth_error", msg: `Invalid user key: ${req.headers.authorization}` },
    }));
    const { client, logger } = testClient(server);
    const error = await failure(() => client.showInstance(1));
    expect(error).toBeInstanceOf(VastAIError);
    expect((error as Error).message).toContain("Invalid user key");
    expect(everythingAbout(error)).not.toContain(TEST_API_KEY);
    expect(JSON.stringify(logger.records)).not.toContain(TEST_API_KEY);
  });

  it("is redacted from plain-text bodies and from api_key= in echoed URLs", async () => {
    server.on("PUT", "/api/v0/instances/1/", {
      status: 400,
      text: `bad request for /api/v0/instances/1/?api_key=${TEST_API_KEY}&x=1 key ${TEST_API_KEY}`,
    });
    const { client } = testClient(server);
    const error = await failure(() => client.startInstance(1));
    const text = everythingAbout(error);
    expect(text).not.toContain(TEST_API_KEY);
    expect(text).toContain("api_key=[REDACTED]");
  });

  it("is redacted from network errors, their causes and stacks", async () => {
    const { client, logger } = testClient(server, {
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      fetch: async (url) => {
        const cause = Object.assign(new Error(`connect ECONNREFUSED (key ${TEST_API_KEY})`), {
          code: "ECONNREFUSED",
        });
        throw new TypeError(`fetch failed for ${url}?api_key=${TEST_API_KEY}`, { cause });
      },
    });
    const error = await failure(() => client.listInstances());
    expect(error).toMatchObject({ code: "network" });
    const text = everythingAbout(error);
    expect(text).toContain("ECONNREFUSED");
    expect(text).not.toContain(TEST_API_KEY);
    expect(JSON.stringify(logger.records)).not.toContain(TEST_API_KEY);
    expect(logger.records.length).toBeGreaterThan(0);
  });

  it("is absent from timeouts, aborts and successful-call logs", async () => {
    server.on("GET", "/api/v0/instances/2/", { hang: true });
    server.on("GET", "/api/v0/instances/3/", { json: { instances: { id: 3 } } });
    const hanging = testClient(server, { timeoutMs: 30, retry: { maxAttempts: 1 } });
    const timeout = await failure(() => hanging.client.showInstance(2));
    const aborted = await failure(() =>
      hanging.client.showInstance(2, { signal: AbortSignal.abort(TEST_API_KEY) }),
    );
    const healthy = testClient(server);
    await healthy.client.showInstance(3);
    expect(timeout).toMatchObject({ code: "timeout" });
    expect(everythingAbout(timeout)).not.toContain(TEST_API_KEY);
    expect(everythingAbout(aborted)).not.toContain(TEST_API_KEY);
    const records = [...hanging.logger.records, ...healthy.logger.records];
    expect(JSON.stringify(records)).not.toContain(TEST_API_KEY);
    expect(records.some((r) => r.message === "vast request")).toBe(true);
  });

  it("is never sent to a logs result_url on another origin", async () => {
    const s3 = await startScriptedServer();
    try {
      s3.on("GET", "/r", { text: "ok" });
      server.on("PUT", "/api/v0/instances/request_logs/1/", { json: { result_url: `${s3.url}/r` } });
      const { client } = testClient(server);
      await client.requestLogs(1);
      expect(JSON.stringify(s3.requests.map((r) => [r.headers, r.path, r.query.toString()]))).not.toContain(
        TEST_API_KEY,
      );
    } finally {
      await s3.close();
    }
  });
});
