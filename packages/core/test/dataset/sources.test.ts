import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { startFauxqs } from "fauxqs";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../../../test/support/dynamodb";
import { localS3Client } from "../../../../test/support/fauxqs";
import {
  type DatasetEntry,
  type DatasetReader,
  DatasetSourceError,
  datasetReaderFor,
  httpsArchiveReader,
  s3DatasetReader,
  UnsafeDatasetEntryError,
} from "../../src/dataset";
import { seededBytes, seededRandom } from "./fixtures";

const run = promisify(execFile);

async function readAll(reader: DatasetReader): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const entry of reader.entries()) {
    if (entry.kind !== "file") continue;
    out.set(entry.path, await body(entry));
  }
  return out;
}

async function listAll(iterable: AsyncIterable<DatasetEntry>): Promise<DatasetEntry[]> {
  const out: DatasetEntry[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

async function body(entry: DatasetEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await entry.open()) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function tarOf(
  files: [string, Buffer][],
  extra: Parameters<ReturnType<typeof tar.pack>["entry"]>[0][] = [],
): Promise<Buffer> {
  const pack = tar.pack();
  for (const header of extra) pack.entry(header);
  for (const [name, data] of files) pack.entry({ name, size: data.length }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("S3 prefix source (fauxqs)", () => {
  let server: Awaited<ReturnType<typeof startFauxqs>>;
  let s3: S3Client;
  const random = seededRandom(5);
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    server = await startFauxqs({ port: 0, logger: false });
    s3 = localS3Client(`http://127.0.0.1:${server.port}`);
    await s3.send(new CreateBucketCommand({ Bucket: "datasets" }));
    // Several ListObjectsV2 pages (page size 25 below) to exercise pagination.
    for (let i = 0; i < 110; i++) {
      const key = `job-1/photos/img-${String(i).padStart(4, "0")}.${i % 2 ? "png" : "txt"}`;
      const data = seededBytes(random, 10 + (i % 50));
      files.set(key.slice("job-1/photos/".length), data);
      await s3.send(new PutObjectCommand({ Bucket: "datasets", Key: key, Body: data }));
    }
    await s3.send(
      new PutObjectCommand({ Bucket: "datasets", Key: "job-1/photos-old/x.png", Body: "sibling" }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: "datasets",
        Key: "job-1/photos/",
        Body: Buffer.alloc(0),
        ContentLength: 0,
      }),
    );
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
  });

  it("lists every page, strips the prefix, streams each object, and ignores sibling prefixes", async () => {
    const read = await readAll(s3DatasetReader(s3, "datasets", "job-1/photos", { pageSize: 25 }));
    expect(read.size).toBe(110);
    for (const [path, data] of files) expect(read.get(path)?.equals(data), path).toBe(true);
    expect([...read.keys()].some((k) => k.includes("x.png"))).toBe(false);
  });

  it("is what datasetReaderFor builds for an s3 source", async () => {
    const reader = datasetReaderFor({ kind: "s3", bucket: "datasets", prefix: "job-1/photos/" }, { s3 });
    expect((await readAll(reader)).size).toBe(110);
  });

  it("turns S3 refusals into permanent source errors, and leaves other failures as they are", async () => {
    const missingBucket = await (async () => {
      for await (const _ of s3DatasetReader(s3, "no-such-bucket", "x").entries()) return;
    })().catch((e) => e);
    expect(missingBucket).toBeInstanceOf(DatasetSourceError);
    expect(missingBucket.permanent).toBe(true);
    expect(missingBucket.message).toBe('the S3 bucket "no-such-bucket" does not exist');

    // Listed, then deleted before the packer reaches it: the dataset changed under us.
    await s3.send(new PutObjectCommand({ Bucket: "datasets", Key: "vanish/a.jpg", Body: "x" }));
    const [entry] = await listAll(s3DatasetReader(s3, "datasets", "vanish").entries());
    await s3.send(new DeleteObjectCommand({ Bucket: "datasets", Key: "vanish/a.jpg" }));
    const vanished = await Promise.resolve(entry!.open()).catch((e) => e);
    expect(vanished).toBeInstanceOf(DatasetSourceError);
    expect(vanished.permanent).toBe(true);
    expect(vanished.message).toMatch(/s3:\/\/datasets\/vanish\/a\.jpg was deleted/);

    const client = new S3Client({ region: "us-east-1", credentials: localCredentials });
    const mock = mockClient(client);
    try {
      const throttled = new S3ServiceException({
        name: "SlowDown",
        $fault: "server",
        $metadata: { httpStatusCode: 503 },
        message: "Please reduce your request rate.",
      });
      mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a.jpg", Size: 1 }] });
      mock.on(GetObjectCommand).rejects(throttled);
      const [listed] = await listAll(s3DatasetReader(client, "busy", "p").entries());
      const error = await Promise.resolve(listed!.open()).catch((e) => e);
      expect(error).toBeInstanceOf(S3ServiceException);
      expect(error.name).toBe("SlowDown");
      mock.on(ListObjectsV2Command).rejects(
        new S3ServiceException({
          name: "AccessDenied",
          $fault: "client",
          $metadata: { httpStatusCode: 403 },
          message: "Access Denied",
        }),
      );
      const denied = await listAll(s3DatasetReader(client, "locked", "p").entries()).catch((e) => e);
      expect(denied).toBeInstanceOf(DatasetSourceError);
      expect(denied.permanent).toBe(true);
      expect(denied.cause).toBeInstanceOf(S3ServiceException);
    } finally {
      mock.restore();
      client.destroy();
    }
  });

  it("refuses a hostile key before yielding anything", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "datasets", Key: "evil/ok.png", Body: "ok" }));
    await s3.send(new PutObjectCommand({ Bucket: "datasets", Key: "evil/tab\there.png", Body: "bad" }));
    const seen: string[] = [];
    const error = await (async () => {
      for await (const entry of s3DatasetReader(s3, "datasets", "evil").entries()) seen.push(entry.path);
    })().catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeDatasetEntryError);
    expect(seen).toEqual([]);
  });
});

describe("HTTPS archive source", () => {
  let dir: string;
  let server: Server;
  let agent: Agent;
  let base: string;
  /** The test server is on loopback: allowed here as a deliberate exception (production allows none). */
  const policy = { allowHosts: ["127.0.0.1"] };
  const files: [string, Buffer][] = [
    ["a.jpg", seededBytes(seededRandom(1), 5000)],
    ["a.txt", Buffer.from("a caption")],
    ["sub/b.webp", seededBytes(seededRandom(2), 70_000)],
  ];
  const routes = new Map<string, Buffer>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "https-src-"));
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
    const cert = await readFile(join(dir, "cert.pem"));
    const plain = await tarOf(
      files.map(([n, d]) => [`./${n}`, d]),
      [
        { name: "./", type: "directory" },
        { name: "link.jpg", type: "symlink", linkname: "/etc/passwd" },
      ],
    );
    routes.set("/plain.tar", plain);
    routes.set("/data.tar.gz", gzipSync(plain));
    routes.set(
      "/evil.tar",
      await tarOf([
        ["ok.jpg", Buffer.from("x")],
        ["../../etc/cron.d/x.txt", Buffer.from("y")],
      ]),
    );
    routes.set("/data.zip", Buffer.from("PK\u0003\u0004not really a zip"));
    routes.set(
      "/share.html",
      Buffer.from("\n  <!DOCTYPE html><html><body>Sign in to download</body></html>"),
    );
    server = createServer({ key: await readFile(join(dir, "key.pem")), cert }, (req, res) => {
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "/data.tar.gz" }).end();
        return;
      }
      if (req.url === "/loop") return res.writeHead(302, { location: "/loop" }).end();
      if (req.url === "/to-http") return res.writeHead(302, { location: "http://127.0.0.1:1/x.tar" }).end();
      if (req.url === "/to-closed")
        return res.writeHead(302, { location: "https://127.0.0.1:1/internal-admin/x.tar" }).end();
      if (req.url === "/to-hang") return res.writeHead(302, { location: "/hang?internal-admin" }).end();
      if (req.url?.startsWith("/hang")) return;
      const status = /^\/status\/(\d{3})$/.exec(req.url ?? "")?.[1];
      if (status) return res.writeHead(Number(status)).end();
      const data = routes.get(req.url?.split("?")[0] ?? "");
      if (!data) return res.writeHead(404).end();
      res.writeHead(200, { "content-length": data.length }).end(data);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `https://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    agent = new Agent({ ca: cert });
  });
  afterAll(async () => {
    agent?.destroy();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it.each(["/plain.tar", "/data.tar.gz", "/redirect"])("streams entries from %s", async (path) => {
    const seen: DatasetEntry[] = [];
    const read = new Map<string, Buffer>();
    for await (const entry of httpsArchiveReader(`${base}${path}`, { agent, policy }).entries()) {
      seen.push(entry);
      if (entry.kind === "file") read.set(entry.path, await body(entry));
    }
    for (const [name, data] of files) expect(read.get(`./${name}`)?.equals(data)).toBe(true);
    // The symlink is reported as "other" (skipped by the packer), never opened.
    expect(seen.find((e) => e.path === "link.jpg")?.kind).toBe("other");
  });

  it("hands hostile archive names to the packer as-is (the packer refuses them)", async () => {
    const names: string[] = [];
    for await (const entry of httpsArchiveReader(`${base}/evil.tar`, { agent, policy }).entries())
      names.push(entry.path);
    expect(names).toContain("../../etc/cron.d/x.txt");
  });

  it("refuses zip, HTTP errors, untrusted certificates and plain http", async () => {
    const first = (reader: DatasetReader) =>
      (async () => {
        for await (const _ of reader.entries()) return;
      })().catch((e) => e);
    expect(await first(httpsArchiveReader(`${base}/data.zip`, { agent, policy }))).toBeInstanceOf(
      DatasetSourceError,
    );
    const missing = await first(
      httpsArchiveReader(`${base}/missing.tar?X-Amz-Signature=secret123`, { agent, policy }),
    );
    expect(missing).toBeInstanceOf(DatasetSourceError);
    expect(missing.message).toMatch(/404/);
    expect(missing.message).not.toContain("secret123");
    expect(await first(httpsArchiveReader(`${base}/plain.tar`, { policy }))).toBeInstanceOf(
      DatasetSourceError,
    );
    expect(await first(httpsArchiveReader(`http://127.0.0.1:1/x.tar`))).toBeInstanceOf(DatasetSourceError);
  });

  it("marks what no retry can cure as permanent, and transport failures as transient", async () => {
    const failure = async (reader: DatasetReader) => {
      const error = await (async () => {
        for await (const _ of reader.entries()) return;
      })().catch((e) => e);
      expect(error).toBeInstanceOf(DatasetSourceError);
      return error as DatasetSourceError;
    };
    const at = (path: string, timeoutMs?: number) =>
      httpsArchiveReader(`${base}${path}`, { agent, policy, timeoutMs });
    for (const path of [
      "/data.zip",
      "/share.html",
      "/missing.tar",
      "/status/403",
      "/status/410",
      "/loop",
      "/to-http",
    ]) {
      expect((await failure(at(path))).permanent, path).toBe(true);
    }
    expect((await failure(at("/share.html"))).message).toMatch(/web page/);
    expect((await failure(at("/loop"))).message).toMatch(/too many redirects/);
    // An untrusted certificate and a plain-http URL: permanent too.
    expect((await failure(httpsArchiveReader(`${base}/plain.tar`, { policy }))).permanent).toBe(true);
    expect((await failure(httpsArchiveReader("http://127.0.0.1:1/x.tar"))).permanent).toBe(true);
    for (const path of ["/status/500", "/status/503", "/status/429", "/status/408"]) {
      const error = await failure(at(path));
      expect(error.permanent, path).toBe(false);
      expect(error.message).toMatch(/HTTP \d{3}/);
    }
    const late = await failure(at("/hang", 200));
    expect(late.permanent).toBe(false);
    expect(late.message).toMatch(/timed out/);
    const refused = await failure(httpsArchiveReader("https://127.0.0.1:1/x.tar", { agent, policy }));
    expect(refused.permanent).toBe(false);
  });

  it("never names a redirect target in a failure: the server chose it, and it may be internal", async () => {
    const failure = async (path: string) =>
      (async () => {
        for await (const _ of httpsArchiveReader(`${base}${path}`, {
          agent,
          policy,
          timeoutMs: 200,
        }).entries())
          return;
      })().catch((e: unknown) => e as DatasetSourceError);
    for (const path of ["/to-closed", "/to-hang", "/loop"]) {
      const error = await failure(path);
      expect(error, path).toBeInstanceOf(DatasetSourceError);
      expect(error?.message, path).toMatch(/after a redirect/);
      expect(error?.message, path).not.toMatch(/internal-admin|127\.0\.0\.1:1\b|ECONNREFUSED 127/);
    }
  });
});
