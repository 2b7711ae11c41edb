import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { Agent, createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localS3Client } from "../../../../test/support/fauxqs";
import { startSshd, type TestSshd } from "../../../../test/support/sshd";
import { datasetReaderFor, pushDataset, UnsafeDatasetEntryError } from "../../src/dataset";
import { connectSsh, type SshSession } from "../../src/ssh";
import { jobPaths } from "../../src/training";
import { seededBytes, seededRandom } from "./fixtures";

const run = promisify(execFile);
const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function tarOf(files: [string, Buffer][]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of files) pack.entry({ name, size: data.length }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The test server is on loopback: allowed as a deliberate exception (production allows none). */
const LOOPBACK = { allowHosts: ["127.0.0.1"] };

describe("pushing from S3 and HTTPS sources into a real sshd", () => {
  let sshd: TestSshd;
  let session: SshSession;
  let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
  let s3: S3Client;
  let https: Server;
  let agent: Agent;
  let base: string;
  let certDir: string;
  const random = seededRandom(77);
  const files: [string, Buffer][] = Array.from({ length: 30 }, (_, i) => [
    `p/${i}.${i % 2 ? "webp" : "txt"}`,
    seededBytes(random, 500 + i * 100),
  ]);

  beforeAll(async () => {
    [sshd, fauxqs] = await Promise.all([startSshd(), startFauxqs({ port: 0, logger: false })]);
    session = await connectSsh({ ...sshd, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
    s3 = localS3Client(`http://127.0.0.1:${fauxqs.port}`);
    await s3.send(new CreateBucketCommand({ Bucket: "datasets" }));
    for (const [name, data] of files) {
      await s3.send(new PutObjectCommand({ Bucket: "datasets", Key: `job/${name}`, Body: data }));
    }
    certDir = await mkdtemp(join(tmpdir(), "e2e-cert-"));
    await run("openssl", [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
      ...[
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(certDir, "k.pem"),
        "-out",
        join(certDir, "c.pem"),
      ],
    ]);
    const cert = await readFile(join(certDir, "c.pem"));
    const good = gzipSync(await tarOf(files));
    // Hostile entry after 25 good ones: the remote side has already extracted some of them.
    const evil = await tarOf([...files.slice(0, 25), ["../../../outside.txt", Buffer.from("escape")]]);
    https = createServer({ key: await readFile(join(certDir, "k.pem")), cert }, (req, res) => {
      const body = req.url === "/good.tar.gz" ? good : req.url === "/evil.tar" ? evil : undefined;
      if (!body) return res.writeHead(404).end();
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
    const address = https.address();
    base = `https://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    agent = new Agent({ ca: cert });
  });
  afterAll(async () => {
    await session?.close();
    await sshd?.close();
    s3?.destroy();
    await fauxqs?.stop();
    agent?.destroy();
    await new Promise((resolve) => https?.close(resolve));
    await rm(certDir, { recursive: true, force: true });
  });

  const expectArrived = async (jobId: string, prefix: string) => {
    const { datasetDir } = jobPaths(jobId, sshd.workspaceRoot);
    for (const [name, data] of files) {
      expect(sha(await readFile(join(datasetDir, prefix, name.slice(2))))).toBe(sha(data));
    }
  };

  it("an S3 prefix arrives intact", async () => {
    const reader = datasetReaderFor({ kind: "s3", bucket: "datasets", prefix: "job/p" }, { s3 });
    const result = await pushDataset(session, {
      jobId: "from-s3",
      workspaceRoot: sshd.workspaceRoot,
      reader,
    });
    expect(result).toMatchObject({ files: 30, images: 15, captions: 15 });
    await expectArrived("from-s3", "");
  });

  it("an HTTPS .tar.gz arrives intact", async () => {
    const reader = datasetReaderFor(
      { kind: "https", url: `${base}/good.tar.gz` },
      { https: { agent, policy: LOOPBACK } },
    );
    const result = await pushDataset(session, {
      jobId: "from-https",
      workspaceRoot: sshd.workspaceRoot,
      reader,
    });
    expect(result.files).toBe(30);
    await expectArrived("from-https", "p");
  });

  it("a hostile entry deep in an archive fails the push and leaves nothing behind", async () => {
    const reader = datasetReaderFor(
      { kind: "https", url: `${base}/evil.tar` },
      { https: { agent, policy: LOOPBACK } },
    );
    const error = await pushDataset(session, {
      jobId: "from-evil",
      workspaceRoot: sshd.workspaceRoot,
      reader,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeDatasetEntryError);
    expect(error.entry).toBe("../../../outside.txt");
    expect(await readdir(jobPaths("from-evil", sshd.workspaceRoot).jobDir)).toEqual([]);
    expect(await readdir(sshd.workspaceRoot)).not.toContain("outside.txt");
  });

  it("local sources are refused unless the local stack allows them", () => {
    expect(() => datasetReaderFor({ kind: "local", path: "/tmp" })).toThrow(/local stack/);
  });
});
