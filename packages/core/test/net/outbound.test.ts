import type { IncomingMessage } from "node:http";
import { Agent as PlainAgent, request } from "node:https";
import { Socket } from "node:net";
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from "vitest";
import {
  checkOutboundUrl,
  guardedHttpsAgent,
  guardedLookup,
  type LookupFunction,
  OutboundRequestRefusedError,
  outboundPolicyOf,
  outboundRequestOptions,
} from "../../src/net";
import { startHttpsServer, stubResolver, type TestHttpsServer } from "../dataset/https-server";

/**
 * Every connection attempt in this process goes through `Socket.prototype.connect` (TLS sockets
 * included), so a refusal "before any connection is opened" means: this spy was never called.
 */
let connects: MockInstance;
let server: TestHttpsServer;

beforeAll(async () => {
  server = await startHttpsServer((_req, res) => res.writeHead(200).end("ok"), {
    hostNames: ["dataset.test"],
  });
});
afterAll(() => server?.close());
beforeEach(() => {
  connects = vi.spyOn(Socket.prototype, "connect");
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The contract a caller follows: check the URL, then send through the guarded agent. */
function get(url: string, agent: PlainAgent, policy = outboundPolicyOf(agent)!): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    try {
      checkOutboundUrl(url, policy);
    } catch (error) {
      return reject(error);
    }
    const req = request(url, { agent }, (res) => {
      res.resume();
      resolve(res);
    });
    req.on("error", reject);
    req.end();
  });
}

async function refused(promise: Promise<unknown>): Promise<OutboundRequestRefusedError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundRequestRefusedError);
  return error as OutboundRequestRefusedError;
}

describe("the issue's SSRF cases are refused before any connection is opened", () => {
  const strict = () => {
    const resolver = stubResolver({ "internal.corp": "10.0.0.1" });
    return { agent: guardedHttpsAgent({ policy: { allowHosts: [] }, ca: server.cert, resolver }), resolver };
  };

  it.each([
    ["https://169.254.169.254/latest/meta-data", "address", "linkLocal"],
    ["https://localhost:8443/x", "localhost", null],
    ["https://[::1]/x", "address", "loopback"],
    ["https://user:pass@internal.corp/x", "userinfo", null],
  ])("%s", async (url, rule, range) => {
    const { agent, resolver } = strict();
    const error = await refused(get(url, agent));
    expect(error).toMatchObject({ rule, range });
    expect(connects).not.toHaveBeenCalled();
    expect(resolver.asked).toEqual([]);
    agent.destroy();
  });

  it("the same hosts aimed at a live loopback server: nothing reaches it", async () => {
    const { agent } = strict();
    const before = server.connections();
    for (const url of [
      `https://localhost:${server.port}/x`,
      `https://127.0.0.1:${server.port}/x`,
      `https://2130706433:${server.port}/x`,
      `https://[::ffff:127.0.0.1]:${server.port}/x`,
      `https://[::1]:${server.port}/x`,
      `https://user:pass@dataset.test:${server.port}/x`,
    ]) {
      await refused(get(url, agent));
    }
    expect(server.connections()).toBe(before);
    expect(connects).not.toHaveBeenCalled();
    agent.destroy();
  });

  it("a name that resolves to 10.0.0.1 is refused by the lookup, before the socket connects", async () => {
    const { agent, resolver } = strict();
    let connected = false;
    const error = await refused(
      new Promise((resolve, reject) => {
        const req = request("https://internal.corp/x", { agent }, resolve);
        req.on("socket", (socket) => socket.on("connect", () => (connected = true)));
        req.on("error", reject);
        req.end();
      }),
    );
    expect(error).toMatchObject({ rule: "address", range: "private", resolved: true });
    expect(error.message).toBe("the URL has a host name that resolves to a private address");
    expect(error.message).not.toContain("10.0.0.1");
    expect(resolver.asked).toEqual(["internal.corp"]);
    expect(connected).toBe(false);
    agent.destroy();
  });
});

describe("guardedHttpsAgent", () => {
  it("connects to an allowlisted name that resolves to loopback", async () => {
    const before = server.connections();
    const response = await get(`https://dataset.test:${server.port}/ok`, server.agent);
    expect(response.statusCode).toBe(200);
    expect(server.connections()).toBe(before + 1);
    // The tripwire the refusal tests rely on does see real connections.
    expect(connects).toHaveBeenCalled();
  });

  it("does not guard IP literals by itself (Node skips the lookup): checkOutboundUrl must run first", async () => {
    const agent = guardedHttpsAgent({ policy: { allowHosts: [] }, ca: server.cert, keepAlive: false });
    expect(() => checkOutboundUrl(`https://127.0.0.1:${server.port}/`, { allowHosts: [] })).toThrow(
      OutboundRequestRefusedError,
    );
    const before = server.connections();
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`https://127.0.0.1:${server.port}/`, { agent }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(server.connections()).toBe(before + 1);
    agent.destroy();
  });
});

describe("guardedLookup", () => {
  const lookupOnce = (lookup: LookupFunction, name: string, all: boolean) =>
    new Promise<{ error: Error | null; address: unknown }>((resolve) =>
      lookup(name, { all }, (error, address) => resolve({ error, address })),
    );
  const table: LookupFunction = (hostname, options, callback) => {
    const answers: Record<string, { address: string; family: number }[]> = {
      "public.test": [{ address: "93.184.215.14", family: 4 }],
      "mixed.test": [
        { address: "93.184.215.14", family: 4 },
        { address: "fd00::5", family: 6 },
      ],
      "mapped.test": [{ address: "::ffff:169.254.169.254", family: 6 }],
      "metadata.test": [{ address: "169.254.169.254", family: 4 }],
    };
    const list = answers[hostname] ?? [];
    if (options.all) return callback(null, list);
    callback(null, list[0]?.address ?? "", list[0]?.family);
  };

  it("passes public answers through unchanged, in both callback shapes", async () => {
    const lookup = guardedLookup({ policy: { allowHosts: [] }, resolver: table });
    expect(await lookupOnce(lookup, "public.test", true)).toEqual({
      error: null,
      address: [{ address: "93.184.215.14", family: 4 }],
    });
    expect(await lookupOnce(lookup, "public.test", false)).toEqual({ error: null, address: "93.184.215.14" });
  });

  it("refuses a name if any of its addresses is blocked, mapped forms included", async () => {
    const lookup = guardedLookup({ policy: { allowHosts: [] }, resolver: table });
    for (const [name, range] of [
      ["mixed.test", "private"],
      ["mapped.test", "linkLocal"],
      ["metadata.test", "linkLocal"],
    ] as const) {
      for (const all of [true, false]) {
        if (name === "mixed.test" && !all) continue; // a single answer is the public one
        const { error } = await lookupOnce(lookup, name, all);
        expect(error, name).toBeInstanceOf(OutboundRequestRefusedError);
        expect(error).toMatchObject({ range, resolved: true });
      }
    }
  });

  it("lets an allowlisted name resolve to anything", async () => {
    const lookup = guardedLookup({ policy: { allowHosts: ["metadata.test"] }, resolver: table });
    expect((await lookupOnce(lookup, "metadata.test", false)).error).toBeNull();
  });
});

describe("outboundRequestOptions", () => {
  it("takes the policy of a guarded agent, and the strict default otherwise", () => {
    expect(outboundRequestOptions({ agent: server.agent }).policy).toBe(server.policy);
    expect(outboundRequestOptions({}).policy.allowHosts).toEqual([]);
    const plain = new PlainAgent();
    expect(outboundRequestOptions({ agent: plain, policy: server.policy }).policy).toBe(server.policy);
    plain.destroy();
  });

  it("refuses an agent whose own lookup would bypass the guard, or a policy that contradicts the agent's", () => {
    const sneaky = new PlainAgent({ lookup: (_h, _o, cb) => cb(null, "10.0.0.1", 4) });
    expect(() => outboundRequestOptions({ agent: sneaky })).toThrow(/own DNS lookup/);
    expect(() => outboundRequestOptions({ agent: server.agent, policy: { allowHosts: [] } })).toThrow(
      /different outbound policy/,
    );
    sneaky.destroy();
  });
});
