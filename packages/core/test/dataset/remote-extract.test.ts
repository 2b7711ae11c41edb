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
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_MANIFEST_MISSING, EXIT_NO_SPACE } from "../../src/dataset";
import { remoteExtractCommand } from "../../src/dataset/remote-extract";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Free and total KiB the fake `df` reports; `null` makes it print nothing a number could be read from. */
type FakeDisk = { availKib: number; sizeKib: number } | null;

describe("remote extract script: disk space", () => {
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

  const run = (jobDir: string, stdin: Buffer, disk: FakeDisk, announced?: number | string): Promise<Run> =>
    new Promise((resolve, reject) => {
      const command = remoteExtractCommand(
        join(dir, jobDir, "dataset"),
        "none",
        // Strings reach the script only by bypassing the type (as a hostile caller would).
        announced as number | undefined,
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

  async function tarOf(files: [string, string][]): Promise<Buffer> {
    const pack = tar.pack();
    for (const [name, data] of files) pack.entry({ name }, data);
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

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
    expect(plenty.code).toBe(2); // tar's own status, untouched
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
    expect(result.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect((await readdir(join(dir, "j", "dataset"))).sort()).toEqual([
      ".dataset-verified",
      "MANIFEST.sha256",
      "a.jpg",
    ]);
  });
});
