import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, startTcpProxy, type TestSshd } from "../../../../test/support/sshd";
import {
  DatasetPushError,
  type DatasetReader,
  EXIT_NO_SPACE,
  isDatasetPresent,
  localDatasetReader,
  MANIFEST_NAME,
  MARKER_NAME,
  type PushProgress,
  pushDataset,
  readDatasetMarker,
  UnsafeDatasetEntryError,
} from "../../src/dataset";
import { PARTIAL_NAME } from "../../src/dataset/remote-extract";
import { connectSsh, type SshSession } from "../../src/ssh";
import { jobPaths } from "../../src/training/paths";
import { hashTree, seededBytes, seededRandom, writeDataset } from "./fixtures";

/** Bytes of the images and captions under `root` (what the packer sends). */
async function payloadBytes(root: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && /\.(jpg|jpeg|png|webp|txt)$/.test(entry.name) && !entry.name.startsWith(".")) {
      total += (await stat(join(entry.parentPath, entry.name))).size;
    }
  }
  return total;
}

const fastRetry = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 };

/** Retries `check` for up to 5 s: remote cleanup after a cut connection is asynchronous. */
async function eventually(check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("pushDataset against a real sshd", () => {
  let sshd: TestSshd;
  let session: SshSession;
  let local: string;
  let big: string;
  let expected: string[];

  beforeAll(async () => {
    sshd = await startSshd();
    session = await connectSsh({ ...sshd, retry: fastRetry });
    local = await mkdtemp(join(tmpdir(), "push-test-"));
    expected = await writeDataset(join(local, "small"), { pairs: 1000, seed: 42 });
    big = join(local, "big");
    await writeDataset(big, { pairs: 24, seed: 9, minBytes: 150_000, maxBytes: 250_000 });
  });
  afterAll(async () => {
    await session?.close();
    await sshd?.close();
    await rm(local, { recursive: true, force: true });
  });

  const jobsDir = () => join(sshd.workspaceRoot, "jobs");

  it("delivers a 2,000-file dataset intact, verified on the instance", async () => {
    const progress: PushProgress[] = [];
    const result = await pushDataset(session, {
      jobId: "job-2000",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(join(local, "small")),
      onProgress: (p) => progress.push(p),
    });
    expect(result).toMatchObject({ files: 2000, images: 1000, captions: 1000, skipped: 2 });
    const { datasetDir } = jobPaths("job-2000", sshd.workspaceRoot);
    expect(result.datasetDir).toBe(datasetDir);
    const arrived = await hashTree(datasetDir);
    const source = await hashTree(join(local, "small"));
    for (const path of expected) expect(arrived.get(path), path).toBe(source.get(path));
    expect([...arrived.keys()].sort()).toEqual([...expected, MARKER_NAME, MANIFEST_NAME].sort());
    expect(progress.at(-1)).toMatchObject({ files: 2000, bytes: result.bytes });
    expect(progress.at(-1)!.bytesPerSecond).toBeGreaterThan(0);
    // Verified marker holds the manifest's hash; the check the push handler uses agrees.
    expect(await readDatasetMarker(session, datasetDir)).toBe(result.manifestSha256);
    expect(await isDatasetPresent(session, datasetDir, result.manifestSha256)).toBe(true);
    expect(await isDatasetPresent(session, datasetDir, "0".repeat(64))).toBe(false);
    expect(await isDatasetPresent(session, `${datasetDir}-nope`)).toBe(false);
    // Nothing left next to it.
    expect(await readdir(join(jobsDir(), "job-2000"))).toEqual(["dataset"]);
  });

  it("delivers large local files intact (read straight into reused chunks), in both compression modes", async () => {
    const large = join(local, "large");
    await mkdir(large);
    const random = seededRandom(77);
    // Past the read-ahead size and several chunks each, with odd sizes; more than the SSH window.
    for (const [name, size] of [
      ["a.png", 3 * 1024 * 1024 + 7],
      ["b.jpg", 5 * 1024 * 1024 - 1],
      ["c.webp", 1024 * 1024 + 1],
    ] as const) {
      await writeFile(join(large, name), seededBytes(random, size));
      await writeFile(join(large, `${name.split(".")[0]}.txt`), `caption of ${name}`);
    }
    const source = await hashTree(large);
    for (const compression of ["none", "gzip"] as const) {
      const result = await pushDataset(session, {
        jobId: `job-large-${compression}`,
        workspaceRoot: sshd.workspaceRoot,
        reader: localDatasetReader(large),
        compression,
      });
      expect(result.files).toBe(6);
      const arrived = await hashTree(result.datasetDir);
      for (const [path, hash] of source) expect(arrived.get(path), `${compression} ${path}`).toBe(hash);
    }
  });

  it("gzip mode delivers the same content", async () => {
    const result = await pushDataset(session, {
      jobId: "job-gzip",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(join(local, "small")),
      compression: "gzip",
    });
    expect(result.files).toBe(2000);
    const arrived = await hashTree(result.datasetDir);
    const source = await hashTree(join(local, "small"));
    for (const path of expected) expect(arrived.get(path)).toBe(source.get(path));
  });

  it("refuses hostile names in a listing source before anything reaches the instance", async () => {
    const hostile = join(local, "hostile");
    await mkdir(hostile);
    await writeFile(join(hostile, "a.jpg"), "ok");
    await writeFile(join(hostile, "b\n.jpg"), "newline in a name");
    const error = await pushDataset(session, {
      jobId: "job-hostile",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(hostile),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeDatasetEntryError);
    expect(error.entry).toBe("b\n.jpg");
    expect(await readdir(jobsDir())).not.toContain("job-hostile");
  });

  it("a hostile entry mid-stream leaves no folder and no partial data", async () => {
    const reader: DatasetReader = {
      async *entries() {
        for (let i = 0; i < 20; i++) {
          yield {
            path: `ok-${i}.jpg`,
            size: 3,
            kind: "file",
            open: () => Readable.from([Buffer.from("abc")]),
          };
        }
        yield {
          path: "../../escape.jpg",
          size: 3,
          kind: "file",
          open: () => Readable.from([Buffer.from("bad")]),
        };
      },
    };
    const error = await pushDataset(session, {
      jobId: "job-midstream",
      workspaceRoot: sshd.workspaceRoot,
      reader,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeDatasetEntryError);
    expect(await readdir(join(jobsDir(), "job-midstream"))).toEqual([]);
    expect(await readdir(jobsDir())).not.toContain("escape.jpg");
  });

  it("a connection dropped mid-push leaves no dataset folder, and the retry sends only what is missing", async () => {
    const proxy = await startTcpProxy(sshd.port, { dropAfterBytes: 1_500_000 });
    const flaky = await connectSsh({ ...sshd, port: proxy.port, retry: fastRetry });
    const { datasetDir, jobDir } = jobPaths("job-drop", sshd.workspaceRoot);
    try {
      const error = await pushDataset(flaky, {
        jobId: "job-drop",
        workspaceRoot: sshd.workspaceRoot,
        reader: localDatasetReader(big),
      }).catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      expect(proxy.drops).toBe(1);
      // The invariant: no dataset folder appears from a cut stream...
      expect(await readdir(jobDir).catch(() => [])).not.toContain("dataset");
      // ...while what arrived stays in the partial folder for the retry.
      await eventually(async () => expect(await readdir(jobDir)).toEqual([PARTIAL_NAME]));
      // The cut extractor may still be draining its pipe: its lock on the job folder says when it is done.
      expect(spawnSync("flock", ["-w", "60", jobDir, "true"]).status).toBe(0);
      // Whatever reached the instance's pipe before the cut was written there (how much depends on
      // buffers along the way); each whole file of it is what the retry must not send again.
      const partial = await hashTree(join(jobDir, PARTIAL_NAME));
      const source = await hashTree(big);
      const whole = [...partial].filter(([path, hash]) => source.get(path) === hash);
      const wholeBytes = (await Promise.all(whole.map(([path]) => stat(join(big, path))))).reduce(
        (sum, s) => sum + s.size,
        0,
      );

      const retried = await connectSsh({ ...sshd, retry: fastRetry });
      try {
        const result = await pushDataset(retried, {
          jobId: "job-drop",
          workspaceRoot: sshd.workspaceRoot,
          reader: localDatasetReader(big),
        });
        expect(result.files).toBe(48);
        // (How many whole files made it depends on sshd's buffers when the connection died; the
        // simulator test in test/integration/push.test.ts cuts at an exact byte.)
        expect(result.reused).toEqual({ files: whole.length, bytes: wholeBytes });
        expect(result.bytes + result.reused.bytes).toBe(await payloadBytes(big));
        const arrived = await hashTree(datasetDir);
        for (const [path, hash] of source)
          if (!path.endsWith(".md") && !path.startsWith(".")) expect(arrived.get(path)).toBe(hash);
        await eventually(async () => expect(await readdir(jobDir)).toEqual(["dataset"]));
      } finally {
        await retried.close();
      }
    } finally {
      await flaky.close();
      await proxy.close();
    }
  });

  it("a re-push replaces the folder atomically with the new content", async () => {
    const first = join(local, "v1");
    await mkdir(first);
    await writeFile(join(first, "x.png"), seededBytes(seededRandom(1), 1000));
    await pushDataset(session, {
      jobId: "job-replace",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(first),
    });
    await writeFile(join(first, "y.png"), "second");
    const again = await pushDataset(session, {
      jobId: "job-replace",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(first),
    });
    expect((await readdir(again.datasetDir)).sort()).toEqual(
      [MARKER_NAME, MANIFEST_NAME, "x.png", "y.png"].sort(),
    );
    expect(await readdir(join(jobsDir(), "job-replace"))).toEqual(["dataset"]);
  });

  it("reports a remote verification failure as a DatasetPushError", async () => {
    // A reader that lies about its content after hashing is impossible; instead break the
    // remote side: a dataset folder whose parent is a file cannot be created.
    const { jobDir } = jobPaths("job-broken", sshd.workspaceRoot);
    await writeFile(jobDir, "a file where the job folder should be");
    const error = await pushDataset(session, {
      jobId: "job-broken",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(join(local, "v1")),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(DatasetPushError);
    expect(error.exitCode).not.toBe(0);
    expect(error.reason).toBe("extract_failed");
    expect(error.permanent).toBe(false);
  });

  it("a dataset announced larger than the free disk is refused up front as no_space, leaving nothing", async () => {
    const started = Date.now();
    const error = await pushDataset(session, {
      jobId: "job-too-big",
      workspaceRoot: sshd.workspaceRoot,
      // ~10 MB of files behind it: the remote side quits without reading them, and the push must not wait.
      reader: localDatasetReader(big),
      announcedBytes: Number.MAX_SAFE_INTEGER,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(DatasetPushError);
    expect(error).toMatchObject({ exitCode: EXIT_NO_SPACE, reason: "no_space", permanent: true });
    expect(error.stderrTail).toMatch(/not enough disk space for the dataset: it needs \d+ KiB/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await readdir(join(jobsDir(), "job-too-big"))).toEqual([]);
  });

  it("a dataset announced within the free disk goes through", async () => {
    const first = await pushDataset(session, {
      jobId: "job-announced",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(big),
    });
    const again = await pushDataset(session, {
      jobId: "job-announced",
      workspaceRoot: sshd.workspaceRoot,
      reader: localDatasetReader(big),
      announcedBytes: first.bytes,
    });
    expect(again.manifestSha256).toBe(first.manifestSha256);
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 53])(
    "refuses announcedBytes %s before contacting the instance",
    async (bad) => {
      const error = await pushDataset(session, {
        jobId: "job-bad-announce",
        workspaceRoot: sshd.workspaceRoot,
        reader: localDatasetReader(big),
        announcedBytes: bad,
      }).catch((e) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect(await readdir(jobsDir())).not.toContain("job-bad-announce");
    },
  );
});
