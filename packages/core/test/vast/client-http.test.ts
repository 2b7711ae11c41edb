import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { VastAIClient, VastAIError } from "../../src/vast";
import { backoffDelayMs, seededRandom } from "../../src/vast/retry";
import { failure, TEST_API_KEY, testClient, virtualClock } from "./support/fixtures";
import { type ScriptedServer, startScriptedServer } from "./support/scripted-server";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const SHOW = "/api/v0/instances/7/";
const running = { instances: { id: 7, actual_status: "running" } };

describe("VastAIClient transport", () => {
  it("authenticates with a Bearer header and never puts the key in the URL", async () => {
    server.on("GET", SHOW, { json: running });
    const { client } = testClient(server);
    await client.showInstance(7);
    const [request] = server.requests;
    expect(request?.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
    expect(request?.query.get("owner")).toBe("me");
    expect(request?.query.toString()).not.toContain(TEST_API_KEY);
  });

  it.each([429, 502, 503, 504])("retries a read on %i and then succeeds", async (status) => {
    server.on("GET", SHOW, [{ status, text: "API requests too frequent" }, { status }, { json: running }]);
    const { client } = testClient(server);
    const instance = await client.showInstance(7);
    expect(instance?.state).toBe("running");
    expect(server.hits("GET", SHOW)).toHaveLength(3);
  });

  it("gives up after maxAttempts with the last mapped error", async () => {
    server.on("GET", SHOW, { status: 503, json: { error: "busy", msg: "try later" } });
    const { client } = testClient(server, { retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 } });
    const error = await failure(() => client.showInstance(7));
    expect(error).toBeInstanceOf(VastAIError);
    expect(error).toMatchObject({ code: "server", status: 503, retryable: true, ambiguous: false });
    expect(server.hits("GET", SHOW)).toHaveLength(4);
  });

  it("does not retry a plain 500 on a read", async () => {
    server.on("GET", SHOW, { status: 500, text: "Internal Server Error" });
    const { client } = testClient(server);
    const error = await failure(() => client.showInstance(7));
    expect(error).toMatchObject({
      code: "server",
      status: 500,
      retryable: false,
      message: expect.stringContaining("Internal Server Error"),
    });
    expect(server.hits("GET", SHOW)).toHaveLength(1);
  });

  it("does not retry 4xx errors other than 429", async () => {
    server.on("PUT", SHOW, {
      status: 400,
      json: { success: false, error: "label_too_long", msg: "label too long" },
    });
    const { client } = testClient(server);
    await expect(client.setLabel(7, "x")).rejects.toMatchObject({ code: "invalid_request", status: 400 });
    expect(server.hits("PUT", SHOW)).toHaveLength(1);
  });

  it("retries network errors on reads", async () => {
    server.on("GET", SHOW, [{ drop: true }, { drop: true }, { json: running }]);
    const { client } = testClient(server);
    expect((await client.showInstance(7))?.instanceId).toBe(7);
    expect(server.hits("GET", SHOW)).toHaveLength(3);
  });

  it("maps a persistent network failure to code network", async () => {
    server.on("GET", SHOW, { drop: true });
    const { client } = testClient(server);
    const error = await failure(() => client.showInstance(7));
    expect(error).toMatchObject({ code: "network", status: null, retryable: true, ambiguous: false });
    expect(server.hits("GET", SHOW)).toHaveLength(3);
  });

  it("maps a refused connection to code network", async () => {
    const { client } = testClient(server, { baseUrl: "http://127.0.0.1:1", retry: { maxAttempts: 1 } });
    await expect(client.showInstance(7)).rejects.toMatchObject({ code: "network", retryable: true });
  });

  it("times out a request that never answers, retrying reads", async () => {
    server.on("GET", SHOW, [{ hang: true }, { json: running }]);
    const { client } = testClient(server, { timeoutMs: 250 });
    const started = performance.now();
    expect((await client.showInstance(7))?.state).toBe("running");
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect(server.hits("GET", SHOW)).toHaveLength(2);
  });

  it("reports code timeout when every attempt times out", async () => {
    server.on("GET", SHOW, { hang: true });
    const { client } = testClient(server, {
      timeoutMs: 50,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const error = await failure(() => client.showInstance(7));
    expect(error).toMatchObject({ code: "timeout", retryable: true, ambiguous: false, status: null });
    expect((error as Error).message).toContain("50 ms");
    expect(server.hits("GET", SHOW)).toHaveLength(2);
  });

  it("honours the caller's AbortSignal without retrying", async () => {
    const controller = new AbortController();
    server.on("GET", SHOW, () => {
      controller.abort(new Error("shutdown"));
      return { hang: true };
    });
    const { client } = testClient(server, { timeoutMs: 5000 });
    const error = await failure(() => client.showInstance(7, { signal: controller.signal }));
    expect(error).toBeInstanceOf(VastAIError);
    expect((error as VastAIError).message).toContain("aborted by the caller");
    expect(server.hits("GET", SHOW)).toHaveLength(1);
  });

  it("rejects at once when the signal is already aborted (no request sent)", async () => {
    server.on("GET", SHOW, { json: running });
    const { client } = testClient(server, { rateLimits: { show: 10 } });
    const error = await failure(() => client.showInstance(7, { signal: AbortSignal.abort() }));
    expect(error).toMatchObject({ code: "unknown", ambiguous: false });
    expect(server.requests).toHaveLength(0);
  });

  it("waits exponential, fully jittered delays between attempts (deterministic with a seed)", async () => {
    server.on("GET", SHOW, [{ status: 503 }, { status: 503 }, { status: 503 }, { json: running }]);
    const clock = virtualClock();
    const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 };
    const { client, logger } = testClient(server, { clock, retry: policy, random: seededRandom(7) });
    await client.showInstance(7);
    const expectedRandom = seededRandom(7);
    const expected = [1, 2, 3].map((retry) => backoffDelayMs(retry, policy, expectedRandom));
    expect(clock.sleeps).toEqual(expected);
    // Each delay is within its cap: 100, 200, then capped at 250.
    expect(clock.sleeps[0]).toBeLessThan(100);
    expect(clock.sleeps[1]).toBeLessThan(200);
    expect(clock.sleeps[2]).toBeLessThan(250);
    expect(logger.records.filter((r) => r.message === "vast request retry")).toHaveLength(3);
  });
});

describe("VastAIClient construction", () => {
  it("refuses to start without an API key", () => {
    expect(() => new VastAIClient({ apiKey: "" })).toThrow(VastAIError);
  });
});

describe("backoffDelayMs", () => {
  const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
  it("is the cap times the random draw", () => {
    expect(backoffDelayMs(1, policy, () => 0.5)).toBe(50);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(200);
    expect(backoffDelayMs(10, policy, () => 0.999)).toBe(999);
  });
  it("clamps odd random sources", () => {
    expect(backoffDelayMs(1, policy, () => 7)).toBe(100);
    expect(backoffDelayMs(1, policy, () => -1)).toBe(0);
    expect(backoffDelayMs(1, policy, () => Number.NaN)).toBe(50);
  });
  it("seededRandom is deterministic and in [0, 1)", () => {
    const a = seededRandom(3);
    const b = seededRandom(3);
    const draws = Array.from({ length: 100 }, () => a());
    expect(draws).toEqual(Array.from({ length: 100 }, () => b()));
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
