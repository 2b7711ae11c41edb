import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { startFauxqs } from "fauxqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../../../test/support/dynamodb";
import { localS3Client } from "../../../../test/support/fauxqs";
import {
  type DatasetPolicy,
  DatasetRejectedError,
  DatasetSourceError,
  type InspectDatasetOptions,
  inspectDataset,
  PERMANENT_S3_ERROR_NAMES,
} from "../../src/dataset";
import { startHttpsServer, type TestHttpsServer } from "./https-server";

const policy: DatasetPolicy = {
  minImages: 1,
  maxMissingCaptionRatio: 0.5,
  limits: { maxBytes: 10_000_000, maxFiles: 5_000 },
};
const options: InspectDatasetOptions = { policy, timeoutMs: 10_000 };

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected the inspection to fail");
    },
    (error: unknown) => error as Error,
  );

/** A TCP server that accepts connections and never answers: for deadline tests. */
async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const s3ServiceError = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    message: `${name} (injected)`,
  });

describe("inspectDataset: S3 prefix (fauxqs)", () => {
  let server: Awaited<ReturnType<typeof startFauxqs>>;
  let s3: S3Client;
  const PAGES_OF_PAIRS = 600; // 1,200 objects: more than one ListObjectsV2 page of 1,000

  beforeAll(async () => {
    server = await startFauxqs({ port: 0, logger: false });
    s3 = localS3Client(`http://127.0.0.1:${server.port}`);
    await s3.send(new CreateBucketCommand({ Bucket: "datasets" }));
    const put = (Key: string, Body: string | Buffer) =>
      s3.send(new PutObjectCommand({ Bucket: "datasets", Key, Body }));
    const keys: [string, string][] = [];
    for (let i = 0; i < PAGES_OF_PAIRS; i++) {
      keys.push([`big/img-${i}.jpg`, "x".repeat(10)], [`big/img-${i}.txt`, "caption"]);
    }
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map(([key, body]) => put(key, body)));
    }
    await put("small/a.jpg", Buffer.alloc(1000, 1));
    await put("small/a.txt", "a caption");
    await put("small/notes.md", "skipped, but counted");
    await put("small-old/b.jpg", "a sibling prefix, not part of the dataset");
    await put("clash/x.jpg", "file");
    await put("clash/x.jpg/y.jpg", "file under a folder named like the file");
    await put("empty-image/a.jpg", Buffer.alloc(0));
    await put("hostile/a.jpg", "ok");
    await put("hostile/tab\there.jpg", "bad");
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
  });

  it("lists every page and reports the files and their total size", async () => {
    const inspection = await inspectDataset(
      { kind: "s3", bucket: "datasets", prefix: "big" },
      { s3 },
      options,
    );
    expect(inspection).toEqual({
      kind: "s3",
      files: 2 * PAGES_OF_PAIRS,
      bytes: PAGES_OF_PAIRS * (10 + "caption".length),
      archiveBytes: null,
    });
  });

  it("counts skipped files, ignores sibling prefixes, and reads one byte to prove access", async () => {
    const inspection = await inspectDataset(
      { kind: "s3", bucket: "datasets", prefix: "small/" },
      { s3 },
      options,
    );
    expect(inspection).toEqual({ kind: "s3", files: 3, bytes: 1000 + 9 + 20, archiveBytes: null });
  });

  it("reads an empty object whole (a range on it would be refused)", async () => {
    const inspection = await inspectDataset(
      { kind: "s3", bucket: "datasets", prefix: "empty-image" },
      { s3 },
      { ...options, policy: { ...policy, maxMissingCaptionRatio: 1 } },
    );
    expect(inspection).toMatchObject({ files: 1, bytes: 0 });
  });

  it.each([
    [
      { bucket: "datasets", prefix: "nothing-here" },
      /no images .*nothing is stored under s3:\/\/datasets\/nothing-here\//,
    ],
    [{ bucket: "no-such-bucket", prefix: "" }, /the S3 bucket "no-such-bucket" does not exist/],
    [{ bucket: "datasets", prefix: "clash" }, /file "x\.jpg" and also "x\.jpg\/y\.jpg"/],
    [{ bucket: "datasets", prefix: "hostile" }, /unsafe dataset entry "tab\\there\.jpg"/],
  ])("rejects %j with a reason", async (where, reason) => {
    const error = await rejection(inspectDataset({ kind: "s3", ...where }, { s3 }, options));
    expect(error).toBeInstanceOf(DatasetRejectedError);
    expect(error.message).toMatch(reason);
  });

  it("stops listing at the limits", async () => {
    const tooMany = await rejection(
      inspectDataset(
        { kind: "s3", bucket: "datasets", prefix: "big" },
        { s3 },
        {
          ...options,
          policy: { ...policy, limits: { maxBytes: 1e9, maxFiles: 1000 } },
        },
      ),
    );
    expect(tooMany.message).toMatch(/more than 1000 files/);
    const tooBig = await rejection(
      inspectDataset(
        { kind: "s3", bucket: "datasets", prefix: "small" },
        { s3 },
        {
          ...options,
          policy: { ...policy, limits: { maxBytes: 500, maxFiles: 10 } },
        },
      ),
    );
    expect(tooBig.message).toMatch(/exceeds the 500 B size limit/);
  });

  it("refuses a bucket outside the allow-list before any call", async () => {
    const client = new S3Client({ region: "us-east-1", credentials: localCredentials });
    const mock = mockClient(client);
    try {
      const error = await rejection(
        inspectDataset(
          { kind: "s3", bucket: "someone-elses", prefix: "" },
          { s3: client },
          {
            ...options,
            allowedBuckets: ["datasets"],
          },
        ),
      );
      expect(error).toBeInstanceOf(DatasetRejectedError);
      expect(error.message).toBe('the deployment may not read the S3 bucket "someone-elses"');
      expect(mock.calls()).toHaveLength(0);
      // An allowed bucket goes ahead.
      const fine = await inspectDataset(
        { kind: "s3", bucket: "datasets", prefix: "small" },
        { s3 },
        {
          ...options,
          allowedBuckets: ["datasets"],
        },
      );
      expect(fine.files).toBe(3);
    } finally {
      mock.restore();
      client.destroy();
    }
  });

  describe("with injected S3 errors (aws-sdk-client-mock: fauxqs has no bucket policies)", () => {
    const client = new S3Client({ region: "us-east-1", credentials: localCredentials });
    const mock = mockClient(client);
    const listing = {
      Contents: [
        { Key: "p/a.jpg", Size: 100 },
        { Key: "p/a.txt", Size: 10 },
      ],
      IsTruncated: false,
    };
    afterAll(() => {
      mock.restore();
      client.destroy();
    });

    it("a bucket that allows List but denies Get is rejected, after a one-byte ranged read", async () => {
      mock.reset();
      mock.on(ListObjectsV2Command).resolves(listing);
      mock.on(GetObjectCommand).rejects(s3ServiceError("AccessDenied", 403));
      const error = await rejection(
        inspectDataset({ kind: "s3", bucket: "locked", prefix: "p" }, { s3: client }, options),
      );
      expect(error).toBeInstanceOf(DatasetRejectedError);
      expect(error.message).toMatch(/access to s3:\/\/locked\/p\/a\.jpg is denied \(AccessDenied\)/);
      const gets = mock.commandCalls(GetObjectCommand);
      expect(gets).toHaveLength(1);
      expect(gets[0]?.args[0].input).toMatchObject({ Bucket: "locked", Key: "p/a.jpg", Range: "bytes=0-0" });
    });

    it.each(PERMANENT_S3_ERROR_NAMES)("%s from ListObjectsV2 is a rejection", async (name) => {
      mock.reset();
      mock.on(ListObjectsV2Command).rejects(s3ServiceError(name, 403));
      const error = await rejection(
        inspectDataset({ kind: "s3", bucket: "locked", prefix: "p" }, { s3: client }, options),
      );
      expect(error).toBeInstanceOf(DatasetRejectedError);
      expect(error.cause).toBeInstanceOf(DatasetSourceError);
    });

    it.each([
      ["SlowDown", 503],
      ["InternalError", 500],
      ["ServiceUnavailable", 503],
      ["RequestTimeout", 400],
      ["ExpiredToken", 400],
    ])("%s is transient: rethrown as it is", async (name, status) => {
      mock.reset();
      mock.on(ListObjectsV2Command).resolves(listing);
      mock.on(GetObjectCommand).rejects(s3ServiceError(name, status));
      const error = await rejection(
        inspectDataset({ kind: "s3", bucket: "busy", prefix: "p" }, { s3: client }, options),
      );
      expect(error).not.toBeInstanceOf(DatasetRejectedError);
      expect(error).toBeInstanceOf(S3ServiceException);
      expect(error.name).toBe(name);
    });
  });

  it("a network failure is transient, and so is the deadline", async () => {
    const silent = await startSilentServer();
    const closedPort = await startSilentServer();
    await closedPort.close();
    const hanging = new S3Client({
      endpoint: `http://127.0.0.1:${silent.port}`,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: localCredentials,
      maxAttempts: 1,
    });
    const refused = new S3Client({
      endpoint: `http://127.0.0.1:${closedPort.port}`,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: localCredentials,
      maxAttempts: 1,
    });
    try {
      const down = await rejection(
        inspectDataset({ kind: "s3", bucket: "datasets", prefix: "" }, { s3: refused }, options),
      );
      expect(down).not.toBeInstanceOf(DatasetRejectedError);
      expect(down).not.toBeInstanceOf(DatasetSourceError);
      const started = Date.now();
      const late = await rejection(
        inspectDataset(
          { kind: "s3", bucket: "datasets", prefix: "" },
          { s3: hanging },
          {
            ...options,
            timeoutMs: 300,
          },
        ),
      );
      expect(late).toBeInstanceOf(DatasetSourceError);
      expect((late as DatasetSourceError).permanent).toBe(false);
      expect(late.message).toBe("inspecting the dataset timed out after 300 ms");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      hanging.destroy();
      refused.destroy();
      await silent.close();
    }
  });
});

describe("inspectDataset: HTTPS archive", () => {
  let server: TestHttpsServer;
  const ARCHIVE_BYTES = 123_456;

  beforeAll(async () => {
    server = await startHttpsServer((req, res) => {
      const path = req.url?.split("?")[0] ?? "";
      const headOnly = req.method === "HEAD";
      const status = /^\/status\/(\d{3})$/.exec(path)?.[1];
      if (status) return res.writeHead(Number(status)).end();
      switch (path) {
        case "/data.tar.gz":
          return res
            .writeHead(200, { "content-length": ARCHIVE_BYTES, "content-type": "application/gzip" })
            .end();
        case "/no-head.tar": // refuses HEAD, honours ranges
          if (headOnly) return res.writeHead(405).end();
          return res.writeHead(206, { "content-range": `bytes 0-0/${ARCHIVE_BYTES}` }).end("x");
        case "/no-head-no-range.tar": // refuses HEAD, ignores ranges: starts sending everything
          if (headOnly) return res.writeHead(501).end();
          res.on("error", () => {});
          res.writeHead(200, { "content-length": 50_000_000 });
          return res.write(Buffer.alloc(65_536));
        case "/no-head-empty.tar":
          if (headOnly) return res.writeHead(405).end();
          return res.writeHead(416, { "content-range": "bytes */0" }).end();
        case "/chunked.tar": // no length announced
          res.writeHead(200, { "transfer-encoding": "chunked" });
          return headOnly ? res.end() : res.end("x");
        case "/huge.tar":
          return res.writeHead(200, { "content-length": 20_000_000 }).end();
        case "/share-page":
          return res
            .writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": 10 })
            .end();
        case "/redirect":
          return res.writeHead(302, { location: "/data.tar.gz" }).end();
        case "/loop":
          return res.writeHead(302, { location: "/loop" }).end();
        case "/to-http":
          return res.writeHead(301, { location: "http://127.0.0.1:1/data.tar.gz" }).end();
        case "/hang":
          return; // never answers
        default:
          return res.writeHead(404).end();
      }
    });
  });
  afterAll(() => server?.close());

  const inspect = (path: string, extra: Partial<InspectDatasetOptions> = {}) =>
    inspectDataset(
      { kind: "https", url: `${server.base}${path}` },
      { https: { agent: server.agent } },
      {
        ...options,
        ...extra,
      },
    );

  it("reads the archive size from a HEAD, following redirects", async () => {
    const expected = { kind: "https", files: null, bytes: null, archiveBytes: ARCHIVE_BYTES };
    expect(await inspect("/data.tar.gz")).toEqual(expected);
    server.seen.length = 0;
    expect(await inspect("/redirect")).toEqual(expected);
    expect(server.seen.map((r) => `${r.method} ${r.url}`)).toEqual(["HEAD /redirect", "HEAD /data.tar.gz"]);
  });

  it("falls back to a one-byte ranged GET when HEAD is refused", async () => {
    server.seen.length = 0;
    expect(await inspect("/no-head.tar")).toMatchObject({ archiveBytes: ARCHIVE_BYTES });
    expect(server.seen).toEqual([
      { method: "HEAD", url: "/no-head.tar", range: undefined },
      { method: "GET", url: "/no-head.tar", range: "bytes=0-0" },
    ]);
    // A server that ignores the range: the length comes from Content-Length, the download is cut.
    expect(
      await inspect("/no-head-no-range.tar", {
        policy: { ...policy, limits: { maxBytes: 1e9, maxFiles: 10 } },
      }),
    ).toMatchObject({
      archiveBytes: 50_000_000,
    });
    expect(await inspect("/chunked.tar")).toMatchObject({ archiveBytes: null });
  });

  it.each([
    [
      "/status/404?X-Amz-Signature=secret123",
      /^the dataset URL answered HTTP 404 Not Found from https:\/\/127\.0\.0\.1:\d+\/status\/404$/,
    ],
    ["/status/403", /HTTP 403 Forbidden/],
    ["/status/401", /HTTP 401/],
    ["/status/410", /HTTP 410 Gone/],
    ["/status/400", /HTTP 400/],
    ["/no-head-empty.tar", /the dataset archive at https:\/\/127\.0\.0\.1:\d+\/no-head-empty\.tar is empty/],
    ["/huge.tar", /is 20\.0 MB, over the 10\.0 MB size limit/],
    ["/share-page", /serves a web page \(text\/html\), not a \.tar or \.tar\.gz archive/],
    ["/loop", /too many redirects/],
    ["/to-http", /must use https/],
  ])("rejects %s", async (path, reason) => {
    const error = await rejection(inspect(path));
    expect(error).toBeInstanceOf(DatasetRejectedError);
    expect(error.message).toMatch(reason);
    expect(error.message).not.toContain("secret123");
  });

  it("rejects a server whose certificate cannot be trusted", async () => {
    const error = await rejection(
      inspectDataset(
        { kind: "https", url: `${server.base}/data.tar.gz` },
        { https: { policy: server.policy } },
        options,
      ),
    );
    expect(error).toBeInstanceOf(DatasetRejectedError);
    expect(error.message).toMatch(/certificate/i);
  });

  it.each(["/status/500", "/status/502", "/status/503", "/status/429", "/status/408"])(
    "%s is transient",
    async (path) => {
      const error = await rejection(inspect(path));
      expect(error).toBeInstanceOf(DatasetSourceError);
      expect((error as DatasetSourceError).permanent).toBe(false);
      expect(error.message).toMatch(/the dataset URL answered HTTP \d{3}/);
    },
  );

  it("a refused connection and the deadline are transient", async () => {
    const gone = await startSilentServer();
    await gone.close();
    const refused = await rejection(
      inspectDataset(
        { kind: "https", url: `https://127.0.0.1:${gone.port}/x.tar` },
        { https: { policy: server.policy } },
        options,
      ),
    );
    expect(refused).toBeInstanceOf(DatasetSourceError);
    expect((refused as DatasetSourceError).permanent).toBe(false);
    const late = await rejection(inspect("/hang", { timeoutMs: 300 }));
    expect(late).toBeInstanceOf(DatasetSourceError);
    expect(late.message).toBe("inspecting the dataset timed out after 300 ms");
  });
});

describe("inspectDataset: local folder", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "inspect-local-"));
    await mkdir(join(dir, "set"));
    await writeFile(join(dir, "set", "a.png"), Buffer.alloc(300));
    await writeFile(join(dir, "set", "a.txt"), "caption");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("lists the folder in the local stack, and is refused elsewhere", async () => {
    expect(await inspectDataset({ kind: "local", path: dir }, { allowLocal: true }, options)).toEqual({
      kind: "local",
      files: 2,
      bytes: 307,
      archiveBytes: null,
    });
    const cloud = await rejection(inspectDataset({ kind: "local", path: dir }, {}, options));
    expect(cloud).toBeInstanceOf(DatasetRejectedError);
    expect(cloud.message).toMatch(/only allowed in the local stack/);
    const missing = await rejection(
      inspectDataset({ kind: "local", path: join(dir, "nope") }, { allowLocal: true }, options),
    );
    expect(missing).toBeInstanceOf(DatasetRejectedError);
    expect(missing.message).toMatch(/dataset folder not found/);
  });
});
