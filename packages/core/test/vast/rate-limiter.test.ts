import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS, NO_RATE_LIMITS } from "../../src/vast";
import { EndpointRateLimiter } from "../../src/vast/rate-limiter";
import { testClient, virtualClock } from "./support/fixtures";
import { type ScriptedServer, startScriptedServer } from "./support/scripted-server";

describe("EndpointRateLimiter (virtual clock)", () => {
  it("spaces concurrent calls to one endpoint by the interval, in arrival order", async () => {
    const clock = virtualClock(0);
    const limiter = new EndpointRateLimiter({ ...NO_RATE_LIMITS, create: 4500 }, clock);
    const starts: Array<[number, number]> = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (n) => {
        await limiter.acquire("create");
        starts.push([n, clock.now()]);
      }),
    );
    expect(starts).toEqual([
      [0, 0],
      [1, 4500],
      [2, 9000],
      [3, 13500],
    ]);
  });

  it("does not wait when enough time has passed, and keeps endpoints independent", async () => {
    const clock = virtualClock(0);
    const limiter = new EndpointRateLimiter({ ...NO_RATE_LIMITS, show: 2000, list: 1000 }, clock);
    await limiter.acquire("show");
    await limiter.acquire("list");
    expect(clock.sleeps).toEqual([]);
    await clock.sleep(2500);
    await limiter.acquire("show");
    expect(clock.sleeps).toEqual([2500]);
    await limiter.acquire("list");
    expect(clock.sleeps).toEqual([2500]);
  });

  it("an interval of 0 disables limiting", async () => {
    const clock = virtualClock(0);
    const limiter = new EndpointRateLimiter(NO_RATE_LIMITS, clock);
    await Promise.all([limiter.acquire("search"), limiter.acquire("search"), limiter.acquire("search")]);
    expect(clock.sleeps).toEqual([]);
  });

  it("an aborted waiter leaves the queue usable for the next caller", async () => {
    const clock = virtualClock(0);
    const limiter = new EndpointRateLimiter({ ...NO_RATE_LIMITS, destroy: 3000 }, clock);
    await limiter.acquire("destroy");
    await expect(limiter.acquire("destroy", AbortSignal.abort())).rejects.toBeDefined();
    await limiter.acquire("destroy");
    expect(clock.now()).toBe(3000);
  });

  it("defaults follow Vast's published thresholds (docs/vast-quirks.md#rate-limits-and-retries)", () => {
    expect(DEFAULT_RATE_LIMITS).toMatchObject({
      create: 4500,
      destroy: 3000,
      show: 2000,
      list: 1000,
      manage: 1000,
      search: 6000,
    });
  });
});

describe("rate limiting through the client (real HTTP)", () => {
  let server: ScriptedServer;
  beforeAll(async () => {
    server = await startScriptedServer();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it("spaces concurrent calls in arrival order by the interval (virtual clock, deterministic)", async () => {
    server.on("GET", /^\/api\/v0\/instances\/\d+\/$/, (req) => ({
      json: { instances: { id: 1, label: req.path } },
    }));
    const clock = virtualClock();
    const { client } = testClient(server, { clock, rateLimits: { ...NO_RATE_LIMITS, show: 2000 } });
    await Promise.all([1, 2, 3].map((id) => client.showInstance(id)));
    expect(clock.sleeps).toEqual([2000, 2000]);
    expect(server.requests.map((r) => r.path)).toEqual([
      "/api/v0/instances/1/",
      "/api/v0/instances/2/",
      "/api/v0/instances/3/",
    ]);
  });

  it("spaces concurrent calls in real time too", async () => {
    server.on("GET", /^\/api\/v0\/instances\/\d+\/$/, { json: { instances: { id: 1 } } });
    const dispatched: number[] = [];
    const { client } = testClient(server, {
      rateLimits: { ...NO_RATE_LIMITS, show: 100 },
      fetch: (url, init) => {
        dispatched.push(performance.now());
        return fetch(url, init);
      },
    });
    await Promise.all([1, 2, 3].map((id) => client.showInstance(id)));
    expect(dispatched).toHaveLength(3);
    // Slots are exactly 100 ms apart; the slack covers scheduling between slot and dispatch.
    for (let i = 1; i < 3; i++) expect(dispatched[i]! - dispatched[i - 1]!).toBeGreaterThanOrEqual(80);
    expect(dispatched[2]! - dispatched[0]!).toBeGreaterThanOrEqual(180);
  });

  it("uses the default intervals unless configured (virtual clock)", async () => {
    server.on("GET", "/api/v0/instances/1/", { json: { instances: { id: 1 } } });
    server.on("DELETE", "/api/v0/instances/1/", { json: { success: true } });
    const clock = virtualClock();
    const { client } = testClient(server, { clock, rateLimits: {} });
    await client.showInstance(1);
    await client.showInstance(1);
    await client.destroyInstance(1);
    await client.destroyInstance(1);
    expect(clock.sleeps).toEqual([2000, 3000]);
  });

  it("each retry attempt also waits its turn", async () => {
    server.on("GET", "/api/v0/instances/1/", [
      { status: 429, text: "API requests too frequent" },
      { json: { instances: { id: 1 } } },
    ]);
    const clock = virtualClock();
    const { client } = testClient(server, {
      clock,
      rateLimits: { ...NO_RATE_LIMITS, show: 2000 },
      retry: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 100 },
      random: () => 0.5,
    });
    await client.showInstance(1);
    // Backoff (50 ms) first, then the limiter tops the wait up to the 2000 ms interval.
    expect(clock.sleeps).toEqual([50, 1950]);
  });
});
