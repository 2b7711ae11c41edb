/**
 * The remote extract script run locally under bash, with a stand-in `df` first on PATH that reports
 * whatever free space a test needs: the only way to make "the disk is full" deterministic without
 * a small filesystem to fill. Real `tar`, `sha256sum` and the rest.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_MANIFEST_MISMATCH, EXIT_MANIFEST_MISSING, EXIT_NO_SPACE } from "../../src/dataset";
import { PARTIAL_NAME, type RemoteVerifier, remoteExtractCommand } from "../../src/dataset/remote-extract";
import { WHOLE_FILE_MAX_BYTES } from "../../src/dataset/remote-verify";
import { hashTree, tarOf } from "./fixtures";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Free and total KiB the fake `df` reports; `null` makes it print nothing a number could be read from. */
type FakeDisk = { availKib: number; sizeKib: number } | null;

describe("remote extract script", () => {
  let dir: string;
  let bin: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "remote-extract-"));
    bin = join(dir, "bin");
    await mkdir(bin);
    await writeFile(
      join(bin, "df"),
      [
        "#!/bin/sh",
        'echo "Filesystem     1024-blocks     Used Available Capacity Mounted on"',
        'if [ -n "$FAKE_DF_AVAIL" ]; then echo "/dev/fake $FAKE_DF_SIZE 0 $FAKE_DF_AVAIL 50% /"; else echo "garbage"; fi',
        "",
      ].join("\n"),
    );
    await chmod(join(bin, "df"), 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const run = (
    jobDir: string,
    stdin: Buffer,
    disk: FakeDisk,
    announced?: number | string,
    verifier: RemoteVerifier = "auto",
    compression: "none" | "gzip" = "none",
  ): Promise<Run> =>
    new Promise((resolve, reject) => {
      const command = remoteExtractCommand(
        join(dir, jobDir, "dataset"),
        compression,
        // Strings reach the script only by bypassing the type (as a hostile caller would).
        announced as number | undefined,
        verifier,
      );
      const child = spawn("sh", ["-c", command], {
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          FAKE_DF_AVAIL: disk ? String(disk.availKib) : "",
          FAKE_DF_SIZE: disk ? String(disk.sizeKib) : "",
        },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.stdin.on("error", () => {}); // the script may exit before reading its input
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(stdin);
    });

  const roomy: FakeDisk = { availKib: 50_000_000, sizeKib: 100_000_000 };

  it("refuses an announced size that does not fit the free space, with a 5% margin", async () => {
    // 100,000 KiB free (10%): 97 MB + 5% = 99,422 KiB fits; 98 MB + 5% = 100,489 KiB does not.
    const disk = { availKib: 100_000, sizeKib: 1_000_000 };
    const empty = await tarOf([]);
    const refused = await run("a", empty, disk, 98_000_000);
    expect(refused.code).toBe(EXIT_NO_SPACE);
    expect(refused.stderr).toMatch(/needs 100489 KiB \(98000000 bytes plus 5%\).* has 100000 KiB free/);
    expect(await readdir(join(dir, "a"))).toEqual([]);
    // Past the space check: the empty archive then lacks its manifest.
    const fits = await run("b", empty, disk, 97_000_000);
    expect(fits.code).toBe(EXIT_MANIFEST_MISSING);
  });

  it("blames a failed extraction on the disk only when the disk is (nearly) full", async () => {
    const garbage = Buffer.alloc(10_240, 0x41); // not a tar archive: tar fails
    const full = await run("c", garbage, { availKib: 1_000, sizeKib: 1_000_000 });
    expect(full.code).toBe(EXIT_NO_SPACE);
    expect(full.stderr).toMatch(/the instance's disk is full \(1000 KiB free/);
    const underOnePercent = await run("d", garbage, { availKib: 90_000, sizeKib: 10_000_000 });
    expect(underOnePercent.code).toBe(EXIT_NO_SPACE);
    const plenty = await run("e", garbage, roomy);
    expect(plenty.code).toBe(2); // the extractor's own status (as tar's), untouched
    const unknown = await run("f", garbage, null);
    expect(unknown.code).toBe(2);
    // The partial folder is removed in every case.
    for (const job of ["c", "d", "e", "f"]) expect(await readdir(join(dir, job))).toEqual([]);
  });

  it("keeps the manifest exit codes even on a full disk", async () => {
    const noManifest = await tarOf([["a.jpg", "x"]]);
    const result = await run("g", noManifest, { availKib: 10, sizeKib: 1_000_000 });
    expect(result.code).toBe(EXIT_MANIFEST_MISSING);
  });

  it("skips the up-front check when df says nothing usable", async () => {
    const result = await run("h", await tarOf([]), null, 10 ** 15);
    expect(result.code).toBe(EXIT_MANIFEST_MISSING);
  });

  it("never evaluates an announced size that is not plain digits", async () => {
    const marker = join(dir, "pwned");
    for (const hostile of [`a[$(touch ${marker})]`, "1+1", `x[\`touch ${marker}\`]`, "12345678901234567"]) {
      const result = await run("i", await tarOf([]), roomy, hostile);
      // Treated as unknown: no space check, and certainly no command run.
      expect(result.code, hostile).toBe(EXIT_MANIFEST_MISSING);
    }
    expect(await readdir(dir)).not.toContain("pwned");
  });

  it("extracts and verifies a real stream when the space is there", async () => {
    const manifestLine = (name: string, data: string) =>
      `${createHash("sha256").update(data).digest("hex")}  ${name}\n`;
    const stream = await tarOf([
      ["a.jpg", "image"],
      ["MANIFEST.sha256", manifestLine("a.jpg", "image")],
    ]);
    const result = await run("j", stream, roomy, 5);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split("\n")).toEqual(["ready", expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect((await readdir(join(dir, "j", "dataset"))).sort()).toEqual([
      ".dataset-verified",
      "MANIFEST.sha256",
      "a.jpg",
    ]);
  });

  const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
  const manifestOf = (files: [string, string | Buffer][]) =>
    files.map(([name, data]) => `${sha256(data)}  ${name}\n`).join("");

  for (const verifier of ["auto", "sha256sum"] as const) {
    const via = verifier === "auto" ? "python3, one pass" : "tar, then sha256sum -c";
    it(`detects a file whose bytes differ from the manifest (${via}), leaving nothing`, async () => {
      const files: [string, string][] = [
        ["a.jpg", "image a"],
        ["sub/b.jpg", "image b"],
      ];
      const manifest = manifestOf(files);
      const tampered = await tarOf([
        ["a.jpg", "image a"],
        ["sub/b.jpg", "image B"],
        ["MANIFEST.sha256", manifest],
      ]);
      const job = `mismatch-${verifier}`;
      const result = await run(job, tampered, roomy, undefined, verifier);
      expect(result.code).toBe(EXIT_MANIFEST_MISMATCH);
      expect(result.stderr).toMatch(/sub\/b\.jpg: FAILED/);
      expect(result.stderr).toMatch(/dataset manifest verification failed/);
      expect(await readdir(join(dir, job))).toEqual([]);
      // The same stream untampered verifies.
      const good = await run(
        `${job}-ok`,
        await tarOf([...files, ["MANIFEST.sha256", manifest]]),
        roomy,
        undefined,
        verifier,
      );
      expect(good.code).toBe(0);
      expect(good.stdout.trim().split("\n").pop()).toBe(sha256(manifest));
    });

    it(`detects a file the manifest lists but the stream lacks (${via})`, async () => {
      const manifest = manifestOf([
        ["a.jpg", "image a"],
        ["missing.jpg", "never sent"],
      ]);
      const result = await run(
        `lacking-${verifier}`,
        await tarOf([
          ["a.jpg", "image a"],
          ["MANIFEST.sha256", manifest],
        ]),
        roomy,
        undefined,
        verifier,
      );
      expect(result.code).toBe(EXIT_MANIFEST_MISMATCH);
    });
  }

  it("extracts long and unusual names (pax headers) byte for byte", async () => {
    const long = `${"d".repeat(120)}/${"e".repeat(150)}/photo ünïcødé 'quoted' $(x).jpg`;
    const files: [string, Buffer][] = [
      [long, Buffer.from("long")],
      ["big.png", Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a)],
    ];
    const result = await run("long", await tarOf([...files, ["MANIFEST.sha256", manifestOf(files)]]), roomy);
    expect(result.code).toBe(0);
    const arrived = await hashTree(join(dir, "long", "dataset"));
    expect(arrived.get(long)).toBe(sha256("long"));
    expect(arrived.get("big.png")).toBe(sha256(files[1]![1]));
  });

  it("keeps what a cut stream delivered, lists it on the next run, and reuses it", async () => {
    const a = Buffer.alloc(5000, 1);
    const b = Buffer.alloc(7000, 2);
    const full = await tarOf([
      ["a.jpg", a],
      ["b.jpg", b],
      [
        "MANIFEST.sha256",
        manifestOf([
          ["a.jpg", a],
          ["b.jpg", b],
        ]),
      ],
    ]);
    // Cut inside b.jpg's data: a.jpg is whole, b.jpg half there (and removed), no manifest.
    const cut = await run("resume", full.subarray(0, 512 + 5120 + 512 + 3000), roomy);
    expect(cut.code).toBe(EXIT_MANIFEST_MISSING);
    expect(cut.stdout).toBe("ready\n");
    expect(await readdir(join(dir, "resume"))).toEqual([PARTIAL_NAME]);

    // The next run lists a.jpg, then verifies a stream that only carries b.jpg.
    const manifest = manifestOf([
      ["a.jpg", a],
      ["b.jpg", b],
    ]);
    const rest = await tarOf([
      ["b.jpg", b],
      ["MANIFEST.sha256", manifest],
    ]);
    const resumed = await run("resume", rest, roomy);
    expect(resumed.code).toBe(0);
    const lines = resumed.stdout.trim().split("\n");
    expect(lines.slice(0, -2)).toEqual([`present ${sha256(a)} 5000 a.jpg`]);
    expect(lines.at(-2)).toBe("ready");
    expect(lines.at(-1)).toBe(sha256(manifest));
    const arrived = await hashTree(join(dir, "resume", "dataset"));
    expect(arrived.get("a.jpg")).toBe(sha256(a));
    expect(arrived.get("b.jpg")).toBe(sha256(b));
    expect(await readdir(join(dir, "resume"))).toEqual(["dataset"]);
  });

  it("keeps every whole file a cut stream delivered: the writer threads finish them before the exit", async () => {
    // Enough files that several are queued for the writer threads when the stream ends.
    const files: [string, Buffer][] = Array.from({ length: 60 }, (_, i) => [
      `f${String(i).padStart(2, "0")}.jpg`,
      Buffer.alloc(20_000, i),
    ]);
    const full = await tarOf([...files, ["MANIFEST.sha256", manifestOf(files)]]);
    // Each entry: a 512-byte header and 20,000 bytes padded to 20,480. Cut inside the 41st file.
    const cut = await run("cut-many", full.subarray(0, 40 * (512 + 20_480) + 512 + 100), roomy);
    expect(cut.code).toBe(EXIT_MANIFEST_MISSING);
    const listed = await run("cut-many", await tarOf([]), roomy);
    const present = listed.stdout.split("\n").filter((line) => line.startsWith("present "));
    expect(present.sort()).toEqual(
      files
        .slice(0, 40)
        .map(([name, data]) => `present ${sha256(data)} ${data.length} ${name}`)
        .sort(),
    );
  });

  it("a cut gzip stream is a cut stream too: exit 3, whole files kept for the next push", async () => {
    // Incompressible, so the cut's place in the compressed bytes falls about where it would raw.
    const noise = (seed: number, size: number) => {
      const out = Buffer.alloc(size);
      let block = createHash("sha256").update(String(seed)).digest();
      for (let at = 0; at < size; at += block.length) {
        block.copy(out, at);
        block = createHash("sha256").update(block).digest();
      }
      return out;
    };
    const files: [string, Buffer][] = Array.from({ length: 20 }, (_, i) => [`g${i}.jpg`, noise(i, 30_000)]);
    const gz = gzipSync(await tarOf([...files, ["MANIFEST.sha256", manifestOf(files)]]));
    const cut = await run(
      "gz-cut",
      gz.subarray(0, Math.floor(gz.length / 2)),
      roomy,
      undefined,
      "auto",
      "gzip",
    );
    expect(cut.code).toBe(EXIT_MANIFEST_MISSING);
    expect(cut.stderr).toMatch(/ended early/);
    const listed = await run("gz-cut", gzipSync(await tarOf([])), roomy, undefined, "auto", "gzip");
    const present = listed.stdout.split("\n").filter((line) => line.startsWith("present "));
    const whole = files.map(([name, data]) => `present ${sha256(data)} ${data.length} ${name}`);
    expect(present.length).toBeGreaterThan(0);
    expect(whole).toEqual(expect.arrayContaining(present));
  });

  it("writes a file above the whole-file size from the stream, among small ones, all verified", async () => {
    const big = Buffer.alloc(WHOLE_FILE_MAX_BYTES + 4097, 0x33);
    const files: [string, Buffer][] = [
      ["a.jpg", Buffer.alloc(3000, 1)],
      ["big.png", big],
      ["b.jpg", Buffer.alloc(WHOLE_FILE_MAX_BYTES, 2)],
      ["sub/c.jpg", Buffer.alloc(10, 3)],
    ];
    const result = await run("mixed", await tarOf([...files, ["MANIFEST.sha256", manifestOf(files)]]), roomy);
    expect(result.code).toBe(0);
    const arrived = await hashTree(join(dir, "mixed", "dataset"));
    for (const [name, data] of files) expect(arrived.get(name)).toBe(sha256(data));
  });

  it("a name repeated in the stream ends with its last copy", async () => {
    const last = Buffer.alloc(9000, 7);
    const stream = await tarOf([
      ["a.jpg", Buffer.alloc(50_000, 6)],
      ["a.jpg", last],
      ["MANIFEST.sha256", manifestOf([["a.jpg", last]])],
    ]);
    const result = await run("repeated", stream, roomy);
    expect(result.code).toBe(0);
    expect((await hashTree(join(dir, "repeated", "dataset"))).get("a.jpg")).toBe(sha256(last));
  });

  it("drops files an earlier version of the dataset left in the partial folder", async () => {
    const old = await tarOf([["old.jpg", "stale"]]);
    expect((await run("stale", old, roomy)).code).toBe(EXIT_MANIFEST_MISSING);
    const files: [string, string][] = [["new.jpg", "fresh"]];
    const result = await run("stale", await tarOf([...files, ["MANIFEST.sha256", manifestOf(files)]]), roomy);
    expect(result.code).toBe(0);
    expect((await readdir(join(dir, "stale", "dataset"))).sort()).toEqual([
      ".dataset-verified",
      "MANIFEST.sha256",
      "new.jpg",
    ]);
  });

  it("accepts folder entries as GNU tar writes them (trailing slash)", async () => {
    const pack = tar.pack();
    const files: [string, string][] = [["sub/a.jpg", "image"]];
    pack.entry({ name: "sub/", type: "directory" });
    pack.entry({ name: "sub/a.jpg" }, "image");
    pack.entry({ name: "MANIFEST.sha256" }, manifestOf(files));
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    const result = await run("folders", Buffer.concat(chunks), roomy);
    expect(result.code).toBe(0);
    expect((await hashTree(join(dir, "folders", "dataset"))).get("sub/a.jpg")).toBe(sha256("image"));
  });
});
