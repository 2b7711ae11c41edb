import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { failure, testClient } from "./support/fixtures";
import { type RecordedRequest, type ScriptedServer, startScriptedServer } from "./support/scripted-server";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const LIST = "/api/v1/instances/";
const row = (id: number, label: string | null = null) => ({ id, label, actual_status: "running" });

describe("searchOffers", () => {
  it("POSTs the query to /api/v0/bundles/ and normalizes offers, dropping unusable rows", async () => {
    server.on("POST", "/api/v0/bundles/", {
      json: {
        offers: [
          { id: 1, gpu_name: "RTX 4090", num_gpus: 1, dph_total: 0.4, gpu_ram: 24564 },
          { id: "x", gpu_name: "RTX 4090" },
          "garbage",
        ],
      },
    });
    const { client } = testClient(server);
    const offers = await client.searchOffers({ gpu_name: { eq: "RTX 4090" } });
    expect(offers.map((o) => o.id)).toEqual([1]);
    expect(server.requests[0]?.body).toEqual({ gpu_name: { eq: "RTX 4090" } });
  });

  it("treats offers: null as none and a missing offers key as an error", async () => {
    server.on("POST", "/api/v0/bundles/", [{ json: { offers: null } }, { json: { success: true } }]);
    const { client } = testClient(server);
    expect(await client.searchOffers({})).toEqual([]);
    await expect(client.searchOffers({})).rejects.toMatchObject({ code: "unknown" });
  });
});

describe("showInstance", () => {
  const SHOW = "/api/v0/instances/12/";
  it("reads the single-object instances key", async () => {
    server.on("GET", SHOW, { json: { instances: { id: 12, actual_status: "loading" } } });
    const { client } = testClient(server);
    expect((await client.showInstance(12))?.state).toBe("loading");
  });

  it.each([
    ["instances: null", { status: 200, json: { instances: null } }],
    ["404", { status: 404, json: { success: false, error: "no_such_instance" } }],
    ["404 without body", { status: 404 }],
    ["a list without the id", { status: 200, json: { instances: [{ id: 99 }] } }],
    ["an empty list", { status: 200, json: { instances: [] } }],
  ])("returns null for %s", async (_name, reply) => {
    server.on("GET", SHOW, reply);
    const { client } = testClient(server);
    expect(await client.showInstance(12)).toBeNull();
  });

  it("finds its row when Vast answers with a list", async () => {
    server.on("GET", SHOW, { json: { instances: [{ id: 11 }, { id: "12", actual_status: "running" }] } });
    const { client } = testClient(server);
    expect((await client.showInstance(12))?.instanceId).toBe(12);
  });

  it("throws when the body has no instances key at all (rather than calling it gone)", async () => {
    server.on("GET", SHOW, { json: { success: true } });
    const { client } = testClient(server);
    await expect(client.showInstance(12)).rejects.toMatchObject({ code: "unknown" });
  });

  it("still throws on a 404 that is really an auth failure", async () => {
    server.on("GET", SHOW, {
      status: 404,
      json: { success: false, error: "auth_error", msg: "Invalid user key" },
    });
    const { client } = testClient(server);
    await expect(client.showInstance(12)).rejects.toMatchObject({ code: "auth" });
  });
});

describe("listInstances", () => {
  const pagedHandler = (pages: Record<string, unknown>) => (req: RecordedRequest) => {
    const token = req.query.get("after_token");
    const key = token === null ? "first" : (JSON.parse(token) as string);
    return { json: pages[key] ?? { instances: [], next_token: null } };
  };

  it("follows next_token through every page with JSON-encoded query values", async () => {
    server.on(
      "GET",
      LIST,
      pagedHandler({
        first: { success: true, instances: [row(1), row(2)], next_token: "t1" },
        t1: { instances: [row(3)], next_token: "t2" },
        t2: { instances: [row(4)], next_token: null },
      }),
    );
    const { client } = testClient(server, { listPageSize: 2 });
    const all = await client.listInstances();
    expect(all.map((i) => i.instanceId)).toEqual([1, 2, 3, 4]);
    const hits = server.hits("GET", LIST);
    expect(hits).toHaveLength(3);
    expect(hits[0]?.query.get("limit")).toBe("2");
    expect(hits[0]?.query.has("after_token")).toBe(false);
    expect(hits[1]?.query.get("after_token")).toBe('"t1"');
    expect(hits[2]?.query.get("after_token")).toBe('"t2"');
  });

  it("caps the page size at 25 and stops on an empty token", async () => {
    server.on("GET", LIST, { json: { instances: [row(1)], next_token: "" } });
    const { client } = testClient(server, { listPageSize: 500 });
    expect(await client.listInstances()).toHaveLength(1);
    expect(server.requests[0]?.query.get("limit")).toBe("25");
  });

  it("filters by label prefix client-side and de-duplicates rows repeated across pages", async () => {
    server.on(
      "GET",
      LIST,
      pagedHandler({
        first: { instances: [row(1, "vast-rental:a:1"), row(2, "other"), row(3, null)], next_token: "p2" },
        p2: { instances: [row(1, "vast-rental:a:1"), row(4, "  vast-rental:b:2 ")], next_token: null },
      }),
    );
    const { client } = testClient(server);
    const ours = await client.listInstances({ labelPrefix: "vast-rental:" });
    expect(ours.map((i) => [i.instanceId, i.label])).toEqual([
      [1, "vast-rental:a:1"],
      [4, "vast-rental:b:2"],
    ]);
  });

  it("sends select_filters JSON-encoded", async () => {
    server.on("GET", LIST, { json: { instances: [] } });
    const { client } = testClient(server);
    await client.listInstances({ selectFilters: { label: { eq: "x" } } });
    expect(JSON.parse(server.requests[0]?.query.get("select_filters") ?? "null")).toEqual({
      label: { eq: "x" },
    });
  });

  it("a 400 for filtering on a computed column is invalid_request (not retried)", async () => {
    server.on("GET", LIST, {
      status: 400,
      json: { success: false, error: "invalid_args", msg: "dph_total is not a valid search key" },
    });
    const { client } = testClient(server);
    await expect(client.listInstances({ selectFilters: { dph_total: { lte: 1 } } })).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("not a valid search key"),
    });
    expect(server.requests).toHaveLength(1);
  });

  it("refuses to return an empty list when the body has no instances key (the orphan trap)", async () => {
    server.on("GET", LIST, { json: { success: true } });
    const { client } = testClient(server);
    await expect(client.listInstances()).rejects.toMatchObject({ code: "unknown" });
  });

  it("errors on a 410 deprecated endpoint instead of returning nothing", async () => {
    server.on("GET", LIST, {
      status: 410,
      json: { success: false, error: "deprecated_endpoint", msg: "gone" },
    });
    const { client } = testClient(server);
    await expect(client.listInstances()).rejects.toMatchObject({ status: 410 });
  });

  it("detects a looping next_token", async () => {
    server.on("GET", LIST, { json: { instances: [row(1)], next_token: "same" } });
    const { client } = testClient(server);
    await expect(client.listInstances()).rejects.toThrow(/next_token repeated/);
    expect(server.requests).toHaveLength(2);
  });

  it("bounds the number of pages", async () => {
    let n = 0;
    server.on("GET", LIST, () => ({ json: { instances: [row(++n)], next_token: `t${n}` } }));
    const { client } = testClient(server, { maxListPages: 3 });
    await expect(client.listInstances()).rejects.toThrow(/more than 3 pages/);
  });

  it("tolerates instances: null and a single object on a page", async () => {
    server.on("GET", LIST, [{ json: { instances: null } }, { json: { instances: row(5) } }]);
    const { client } = testClient(server);
    expect(await client.listInstances()).toEqual([]);
    expect((await client.listInstances()).map((i) => i.instanceId)).toEqual([5]);
  });

  it("retries a page that failed with 503 and keeps the earlier pages", async () => {
    let calls = 0;
    server.on("GET", LIST, (req) => {
      calls++;
      if (req.query.get("after_token") === null) return { json: { instances: [row(1)], next_token: "n" } };
      return calls === 2 ? { status: 503 } : { json: { instances: [row(2)], next_token: null } };
    });
    const { client } = testClient(server);
    expect((await client.listInstances()).map((i) => i.instanceId)).toEqual([1, 2]);
    expect(calls).toBe(3);
  });
});

describe("start, stop and label", () => {
  it("PUTs the state or label to /api/v0/instances/{id}/", async () => {
    server.on("PUT", "/api/v0/instances/3/", { json: { success: true } });
    const { client } = testClient(server);
    await client.startInstance(3);
    await client.stopInstance(3);
    await client.setLabel(3, "vast-rental:j:1");
    expect(server.requests.map((r) => r.body)).toEqual([
      { state: "running" },
      { state: "stopped" },
      { label: "vast-rental:j:1" },
    ]);
  });

  it("rejects labels over 1024 characters before any request", async () => {
    const { client } = testClient(server);
    await expect(client.setLabel(3, "x".repeat(1025))).rejects.toMatchObject({ code: "invalid_request" });
    expect(server.requests).toHaveLength(0);
  });

  it("a 404 on stop is not_found", async () => {
    server.on("PUT", "/api/v0/instances/3/", { status: 404, json: { error: "no_such_instance" } });
    const { client } = testClient(server);
    await expect(client.stopInstance(3)).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("destroyInstance", () => {
  const PATH = "/api/v0/instances/8/";
  it("DELETEs with an empty JSON body", async () => {
    server.on("DELETE", PATH, { json: { success: true, msg: "destroying" } });
    const { client } = testClient(server);
    expect(await client.destroyInstance(8)).toEqual({ alreadyGone: false });
    expect(server.requests[0]?.body).toEqual({});
  });

  it.each([
    ["404 not_found", { status: 404, json: { success: false, error: "not_found" } }],
    ["404 no_such_instance", { status: 404, json: { success: false, error: "no_such_instance", msg: "x" } }],
    [
      "200 success:false no_such_instance",
      { status: 200, json: { success: false, error: "no_such_instance" } },
    ],
    ["400 no_such_instance", { status: 400, json: { success: false, error: "no_such_instance" } }],
    ["instances: null", { status: 200, json: { instances: null } }],
    ["404 plain text", { status: 404, text: "Not Found" }],
  ])("treats %s as already gone", async (_name, reply) => {
    server.on("DELETE", PATH, reply);
    const { client } = testClient(server);
    expect(await client.destroyInstance(8)).toEqual({ alreadyGone: true });
  });

  it("retries a destroy on 503 (idempotent), converging on already gone", async () => {
    server.on("DELETE", PATH, [{ status: 503 }, { status: 404, json: { error: "no_such_instance" } }]);
    const { client } = testClient(server);
    expect(await client.destroyInstance(8)).toEqual({ alreadyGone: true });
    expect(server.requests).toHaveLength(2);
  });

  it("awaits beforeSend before each try leaves, and sends nothing when it throws", async () => {
    server.on("DELETE", PATH, [{ status: 503 }, { json: { success: true } }]);
    const { client } = testClient(server);
    const seen: number[] = [];
    await client.destroyInstance(8, {
      beforeSend: async () => {
        // Not yet sent: the requests the server has seen are those of the earlier tries only.
        seen.push(server.requests.length);
      },
    });
    expect(seen).toEqual([0, 1]);
    expect(server.requests).toHaveLength(2);

    server.reset();
    server.on("DELETE", PATH, { json: { success: true } });
    await expect(
      client.destroyInstance(8, { beforeSend: () => Promise.reject(new Error("store unavailable")) }),
    ).rejects.toThrow("store unavailable");
    expect(server.requests).toHaveLength(0);
  });

  it("does not swallow auth failures", async () => {
    server.on("DELETE", PATH, { status: 401, json: { error: "auth_error" } });
    const { client } = testClient(server);
    await expect(client.destroyInstance(8)).rejects.toMatchObject({ code: "auth" });
  });
});

describe("SSH keys", () => {
  it("attaches a key to an instance", async () => {
    server.on("POST", "/api/v0/instances/4/ssh/", { json: { success: true, msg: "ok" } });
    const { client } = testClient(server);
    await client.attachSshKey(4, "ssh-ed25519 AAAAC3 me@host\n");
    expect(server.requests[0]?.body).toEqual({ ssh_key: "ssh-ed25519 AAAAC3 me@host" });
  });

  it.each([
    ["a bare list with public_key", [{ id: 1, public_key: "ssh-ed25519 A" }]],
    ["ssh_keys list with key", { ssh_keys: [{ id: "1", key: "ssh-ed25519 A" }] }],
    [
      "ssh_keys as a JSON string",
      { success: true, ssh_keys: JSON.stringify([{ id: 1, public_key: "ssh-ed25519 A" }]) },
    ],
    ["keys list", { keys: [{ id: 1, ssh_key: "ssh-ed25519 A" }, { id: 2 }] }],
  ])("lists account keys from %s", async (_name, json) => {
    server.on("GET", "/api/v0/ssh/", { json });
    const { client } = testClient(server);
    expect(await client.listAccountSshKeys()).toEqual([{ id: 1, publicKey: "ssh-ed25519 A" }]);
  });

  it("lists nothing from an odd body", async () => {
    server.on("GET", "/api/v0/ssh/", { json: { ssh_keys: "not json" } });
    const { client } = testClient(server);
    expect(await client.listAccountSshKeys()).toEqual([]);
  });

  it("creates an account key", async () => {
    server.on("POST", "/api/v0/ssh/", {
      json: { success: true, key: { id: 31, user_id: 1, public_key: "ssh-ed25519 B", created_at: "x" } },
    });
    const { client } = testClient(server);
    expect(await client.createAccountSshKey("ssh-ed25519 B")).toEqual({ id: 31, publicKey: "ssh-ed25519 B" });
    expect(server.requests[0]?.body).toEqual({ ssh_key: "ssh-ed25519 B" });
  });

  it("does not retry account key creation on a 503 (not idempotent), only on 429", async () => {
    server.on("POST", "/api/v0/ssh/", [{ status: 429 }, { status: 503 }, { json: { success: true } }]);
    const { client } = testClient(server);
    await expect(client.createAccountSshKey("ssh-ed25519 B")).rejects.toMatchObject({ code: "server" });
    expect(server.requests).toHaveLength(2);
  });
});

describe("requestLogs", () => {
  it("requests logs then polls result_url until it is ready, without sending the key elsewhere", async () => {
    const other = await startScriptedServer();
    try {
      other.on("GET", "/logs/77.txt", [
        { status: 404 },
        { status: 403, text: "AccessDenied" },
        { text: "line1\nline2\n" },
      ]);
      server.on("PUT", "/api/v0/instances/request_logs/77/", {
        json: { success: true, result_url: `${other.url}/logs/77.txt?X-Amz-Signature=abc`, msg: "ok" },
      });
      const { client } = testClient(server);
      expect(await client.requestLogs(77, { tail: 200 })).toBe("line1\nline2\n");
      expect(server.requests[0]?.body).toEqual({ tail: "200" });
      expect(other.requests).toHaveLength(3);
      expect(other.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    } finally {
      await other.close();
    }
  });

  it("returns JSON-looking logs as text", async () => {
    server.on("PUT", "/api/v0/instances/request_logs/5/", { json: { result_url: "/results/5" } });
    server.on("GET", "/results/5", { text: '{"a":1}' });
    const { client } = testClient(server);
    expect(await client.requestLogs(5)).toBe('{"a":1}');
    expect(server.requests[0]?.body).toEqual({ tail: "1000" });
  });

  it("gives up after the bounded number of polls", async () => {
    server.on("PUT", "/api/v0/instances/request_logs/6/", { json: { result_url: "/results/6" } });
    server.on("GET", "/results/6", { status: 404 });
    const { client } = testClient(server);
    const error = await failure(() => client.requestLogs(6));
    expect(error).toMatchObject({ code: "timeout", retryable: true });
    expect(server.hits("GET", "/results/6")).toHaveLength(5);
  });

  it("fails clearly without a result_url", async () => {
    server.on("PUT", "/api/v0/instances/request_logs/6/", { json: { success: true } });
    const { client } = testClient(server);
    await expect(client.requestLogs(6)).rejects.toThrow(/no result_url/);
  });
});
