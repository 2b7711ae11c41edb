/**
 * Who may call what: API keys (named, revocable, compared in constant time), signed submissions
 * only on `POST /v1/jobs` (403 elsewhere), and the open routes. Every refusal is a problem that
 * stores nothing and echoes no credential.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { bearerToken, cachedCredentials, matchApiKey, weakCredentialNames } from "../../src/api";
import {
  type ApiHarness,
  bearer,
  bodyOf,
  CREDENTIALS,
  OPS_KEY,
  problemOf,
  SHOP_SECRET,
  signedHeaders,
  useApiHarness,
} from "./support";

const api = useApiHarness();
let h: ApiHarness;
beforeEach(() => {
  h = api.current();
});

/** Every route that needs an API key. */
const PROTECTED: [method: string, path: string][] = [
  ["POST", "/v1/jobs"],
  ["GET", "/v1/jobs"],
  ["GET", "/v1/jobs/job_x"],
  ["POST", "/v1/jobs/job_x/cancel"],
  ["GET", "/v1/offers?gpuType=4090&maxHourlyUsd=1"],
  ["GET", "/v1/instances"],
  ["GET", "/v1/instances/1"],
  ["POST", "/v1/instances/1/stop"],
  ["POST", "/v1/instances/1/start"],
  ["DELETE", "/v1/instances/1"],
];

describe("API keys", () => {
  it("bearerToken reads only the Bearer form", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer  abc ")).toBe("abc");
    for (const header of [undefined, "", "Basic abc", "Bearer", "Bearer a b", `Bearer ${"x".repeat(2000)}`]) {
      expect(bearerToken(header), String(header)).toBeNull();
    }
  });

  it("matchApiKey names the key, ignores keys too short to be secret, and matches nothing else", () => {
    expect(matchApiKey(OPS_KEY, CREDENTIALS.apiKeys)).toBe("ops");
    expect(matchApiKey("ci-key-fedcba9876543210", CREDENTIALS.apiKeys)).toBe("ci");
    expect(matchApiKey("short", CREDENTIALS.apiKeys)).toBeNull();
    expect(matchApiKey(`${OPS_KEY}x`, CREDENTIALS.apiKeys)).toBeNull();
    expect(matchApiKey(OPS_KEY.slice(0, -1), CREDENTIALS.apiKeys)).toBeNull();
    expect(matchApiKey("", {})).toBeNull();
    expect(weakCredentialNames(CREDENTIALS)).toEqual(["apiKeys.weak"]);
  });

  it.each(PROTECTED)("%s %s: 401 without a key or with a wrong one, stores nothing", async (method, path) => {
    for (const headers of [{}, bearer("wrong-key-0123456789abcdef"), { authorization: "Basic b3BzOnB3" }]) {
      const response = await h.app.request(path, { method, headers });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="vast-rental"');
      const problem = await problemOf(response);
      expect(problem.type).toBe("urn:vast-rental:problem:unauthorized");
      expect(JSON.stringify(problem)).not.toContain("wrong-key");
    }
    expect(h.writes).toEqual([]);
    expect(h.vast.calls).toEqual([]);
  });

  it.each(PROTECTED.filter(([m, p]) => !(m === "POST" && p === "/v1/jobs")))(
    "%s %s: a valid submission signature is the wrong credential (403); a bad one is 401",
    async (method, path) => {
      const valid = await h.app.request(path, { method, headers: signedHeaders("") });
      expect(valid.status).toBe(403);
      expect((await problemOf(valid)).detail).toBe(
        "a submission signature is accepted only by POST /v1/jobs; use an API key",
      );
      const invalid = await h.app.request(path, {
        method,
        headers: signedHeaders("", "not-the-secret-0123456789"),
      });
      expect(invalid.status).toBe(401);
      expect(h.writes).toEqual([]);
    },
  );

  it("a key removed from the secret stops working once the credentials are read again", async () => {
    let apiKeys: Record<string, string> = { ...CREDENTIALS.apiKeys };
    const clock = { now: () => h.clock.now() };
    const credentials = cachedCredentials(async () => ({ ...CREDENTIALS, apiKeys }), {
      clock,
      maxAgeMs: 60_000,
    });
    const { app } = await api.make({ credentials, clock: h.clock });
    const list = () => app.request("/v1/jobs", { headers: bearer() });
    expect((await list()).status).toBe(200);
    apiKeys = { ci: CREDENTIALS.apiKeys.ci as string };
    expect((await list()).status).toBe(200); // cached for a minute
    h.clock.set(h.clock.now() + 60_000);
    expect((await list()).status).toBe(401);
  });

  it("cachedCredentials forgets a failed read", async () => {
    let calls = 0;
    const load = async () => {
      calls++;
      if (calls === 1) throw new Error("secrets manager unreachable");
      return CREDENTIALS;
    };
    const credentials = cachedCredentials(load, { clock: { now: () => 0 } });
    await expect(credentials()).rejects.toThrow("unreachable");
    expect(await credentials()).toBe(CREDENTIALS);
    expect(await credentials()).toBe(CREDENTIALS);
    expect(calls).toBe(2);
  });

  it("a credentials store that cannot be read is a 500 that says nothing about it", async () => {
    const { app } = await api.make({
      credentials: async () => {
        throw new Error(`secret ${SHOP_SECRET} unreadable`);
      },
    });
    const response = await app.request("/v1/jobs", { headers: bearer() });
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain(SHOP_SECRET);
  });
});

describe("open routes", () => {
  it("GET /health answers without credentials and without touching anything", async () => {
    const response = await h.app.request("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect(h.writes).toEqual([]);
  });

  it("GET /openapi.json and GET /docs answer without credentials", async () => {
    const doc = await h.app.request("/openapi.json");
    expect(doc.status).toBe(200);
    expect((await bodyOf<{ openapi: string }>(doc)).openapi).toBe("3.1.0");
    const docs = await h.app.request("/docs");
    expect(docs.status).toBe(200);
    expect(docs.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await docs.text()).toContain("./openapi.json");
  });

  it("an unknown route is a 404 problem", async () => {
    const response = await h.app.request("/v2/things", { headers: bearer() });
    expect(response.status).toBe(404);
    expect((await problemOf(response)).detail).toBe("no route GET /v2/things");
  });
});
