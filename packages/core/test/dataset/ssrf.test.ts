/**
 * The dataset fetch under the outbound policy: the issue's SSRF cases, redirects to internal
 * hosts and names resolving to private addresses are refused before anything connects, as
 * permanent errors that name the rule and never echo what an internal host would have said.
 */
import { Agent as PlainAgent } from "node:https";
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
  type DatasetPolicy,
  type DatasetReader,
  DatasetRejectedError,
  DatasetSourceError,
  DatasetSourceSchema,
  datasetSourceSchema,
  type HttpsArchiveOptions,
  httpsArchiveReader,
  inspectDataset,
} from "../../src/dataset";
import { guardedHttpsAgent, OutboundRequestRefusedError } from "../../src/net";
import { loopbackFor, startHttpsServer, stubResolver, type TestHttpsServer } from "./https-server";

const POLICY: DatasetPolicy = {
  limits: { maxBytes: 1e9, maxFiles: 100 },
  minImages: 1,
  maxMissingCaptionRatio: 0.5,
};

let server: TestHttpsServer;
let connects: MockInstance;

beforeAll(async () => {
  server = await startHttpsServer(
    (req, res) => {
      const path = req.url ?? "/";
      if (path === "/to-loopback") {
        return res.writeHead(302, { location: `https://127.0.0.1:${server.port}/internal` }).end();
      }
      if (path === "/to-internal-name")
        return res.writeHead(302, { location: "https://internal.test/admin" }).end();
      if (path === "/to-metadata")
        return res.writeHead(301, { location: "https://169.254.169.254/latest/meta-data/iam" }).end();
      if (path === "/to-userinfo")
        return res.writeHead(302, { location: "https://admin:hunter2@dataset.test/" }).end();
      // What an internal service would answer: it must never reach a message.
      if (path === "/internal")
        return res.writeHead(500, { "content-type": "text/plain" }).end("internal-secret-body");
      res.writeHead(404).end();
    },
    { hostNames: ["dataset.test"] },
  );
});
afterAll(() => server?.close());
beforeEach(() => {
  connects = vi.spyOn(Socket.prototype, "connect");
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Only the test server's name is allowed; `internal.test` resolves to 10.0.0.1 (without DNS). */
function onlyDatasetTest(): HttpsArchiveOptions & { agent: PlainAgent; asked: string[] } {
  const policy = { allowHosts: ["dataset.test"] };
  const names = stubResolver({ "internal.test": "10.0.0.1" });
  const loopback = loopbackFor(["dataset.test"]);
  const resolver: typeof loopback = (host, options, callback) =>
    host === "dataset.test" ? loopback(host, options, callback) : names(host, options, callback);
  const agent = guardedHttpsAgent({ policy, ca: server.cert, keepAlive: false, resolver });
  return { agent, asked: names.asked };
}

async function readFailure(reader: DatasetReader): Promise<DatasetSourceError> {
  const error = await (async () => {
    for await (const _ of reader.entries()) return;
  })().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DatasetSourceError);
  return error as DatasetSourceError;
}

async function inspectFailure(url: string, https: HttpsArchiveOptions): Promise<Error> {
  return inspectDataset({ kind: "https", url }, { https }, { policy: POLICY }).then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: Error) => e,
  );
}

describe("the issue's SSRF cases: refused before any connection is opened", () => {
  it.each([
    [
      "https://169.254.169.254/latest/meta-data",
      "the dataset URL points at a link-local address (such as the cloud metadata service)",
    ],
    ["https://localhost:8443/x", "the dataset URL points at localhost"],
    ["https://[::1]/x", "the dataset URL points at a loopback address"],
    ["https://user:pass@internal.corp/x", "the dataset URL may not carry a user name or password"],
    ["https://2130706433/x.tar", "the dataset URL points at a loopback address"],
    ["https://[::ffff:10.0.0.1]/x.tar", "the dataset URL points at a private address"],
  ])("%s", async (url, message) => {
    const streamed = await readFailure(httpsArchiveReader(url));
    expect(streamed.message).toBe(message);
    expect(streamed.permanent).toBe(true);
    expect(streamed.cause).toBeInstanceOf(OutboundRequestRefusedError);
    const inspected = await inspectFailure(url, {});
    expect(inspected).toBeInstanceOf(DatasetRejectedError);
    expect(inspected.message).toBe(message);
    expect(connects).not.toHaveBeenCalled();
  });

  it("the loopback forms aimed at the live test server never reach it", async () => {
    const before = server.connections();
    for (const url of [
      `https://localhost:${server.port}/x.tar`,
      `https://127.0.0.1:${server.port}/x.tar`,
      `https://0x7f.0.0.1:${server.port}/x.tar`,
      `https://[::ffff:127.0.0.1]:${server.port}/x.tar`,
    ]) {
      expect((await readFailure(httpsArchiveReader(url))).permanent, url).toBe(true);
      expect(await inspectFailure(url, {})).toBeInstanceOf(DatasetRejectedError);
    }
    expect(server.connections()).toBe(before);
    expect(connects).not.toHaveBeenCalled();
  });

  it("a name that resolves to 10.0.0.1 is refused at its lookup", async () => {
    const options = onlyDatasetTest();
    const error = await readFailure(httpsArchiveReader("https://internal.test/x.tar", options));
    expect(error.permanent).toBe(true);
    expect(error.message).toBe("the dataset URL has a host name that resolves to a private address");
    expect(error.message).not.toContain("10.0.0.1");
    expect(options.asked).toEqual(["internal.test"]);
    const inspected = await inspectFailure("https://internal.test/x.tar", options);
    expect(inspected).toBeInstanceOf(DatasetRejectedError);
    expect(inspected.message).toBe(error.message);
    options.agent.destroy();
  });
});

describe("redirects: every hop is checked", () => {
  it("a redirect from the allowed host to https://127.0.0.1/… is refused before the second connection", async () => {
    const options = onlyDatasetTest();
    const url = `https://dataset.test:${server.port}/to-loopback`;
    for (const error of [
      await readFailure(httpsArchiveReader(url, options)),
      await inspectFailure(url, options),
    ]) {
      expect(error.message).toBe("the dataset URL redirected to a URL that points at a loopback address");
      // Nothing of the redirect target, and nothing the internal service would have answered.
      expect(error.message).not.toMatch(/127\.0\.0\.1|internal|500|secret/);
    }
    expect(server.seen.filter((r) => r.url === "/internal")).toEqual([]);
    expect(server.seen.filter((r) => r.url === "/to-loopback").length).toBe(2);
    options.agent.destroy();
  });

  it("counts one connection per allowed hop and none for the refused one", async () => {
    const options = onlyDatasetTest();
    const before = server.connections();
    await readFailure(httpsArchiveReader(`https://dataset.test:${server.port}/to-loopback`, options));
    expect(server.connections()).toBe(before + 1);
    options.agent.destroy();
  });

  it.each([
    [
      "/to-internal-name",
      "the dataset URL redirected to a URL that has a host name that resolves to a private address",
    ],
    [
      "/to-metadata",
      "the dataset URL redirected to a URL that points at a link-local address (such as the cloud metadata service)",
    ],
    ["/to-userinfo", "the dataset URL redirected to a URL that may not carry a user name or password"],
  ])("%s", async (path, message) => {
    const options = onlyDatasetTest();
    const error = await readFailure(
      httpsArchiveReader(`https://dataset.test:${server.port}${path}`, options),
    );
    expect(error.permanent).toBe(true);
    expect(error.message).toBe(message);
    expect(error.message).not.toMatch(/internal\.test|169\.254|hunter2|admin/);
    options.agent.destroy();
  });
});

describe("wiring", () => {
  it("an agent with a lookup of its own is refused: it would bypass the address check", async () => {
    const agent = new PlainAgent({ lookup: (_h, _o, cb) => cb(null, "10.0.0.1", 4) });
    const error = await readFailure(httpsArchiveReader("https://example.test/x.tar", { agent }));
    expect(error.permanent).toBe(true);
    expect(error.message).toMatch(/misconfigured: the agent has its own DNS lookup/);
    expect(connects).not.toHaveBeenCalled();
    agent.destroy();
  });
});

describe("intake: DatasetSourceSchema", () => {
  const message = (url: string, schema = DatasetSourceSchema) => {
    const parsed = schema.safeParse({ kind: "https", url });
    return parsed.success ? null : parsed.error.issues.map((i) => i.message).join("; ");
  };

  it("refuses the issue's SSRF URLs with the rule broken", () => {
    expect(message("https://169.254.169.254/latest/meta-data")).toMatch(
      /^dataset URLs may not point at a private or loopback address: 169\.254\.169\.254 is a link-local address/,
    );
    expect(message("https://localhost:8443/x")).toBe("dataset URLs may not point at localhost");
    expect(message("https://[::1]/x")).toMatch(
      /^dataset URLs may not point at a private or loopback address/,
    );
    expect(message("https://user:pass@internal.corp/x")).toBe(
      "dataset URLs may not carry a user name or password",
    );
    expect(message("http://example.com/x.tar")).toBe("dataset URLs must use https");
    expect(message("https://example.com/x.tar")).toBeNull();
  });

  it("takes a deployment's allowlist through datasetSourceSchema(policy)", () => {
    const local = datasetSourceSchema(server.policy);
    expect(message(`${server.base}/x.tar`)).toMatch(/loopback/);
    expect(message(`${server.base}/x.tar`, local)).toBeNull();
    expect(message("https://10.0.0.1/x.tar", local)).toMatch(/private/);
    expect(datasetSourceSchema()).toBe(DatasetSourceSchema);
  });
});
