/**
 * The instance's Python extractor alone, under faults no real file system here can produce on
 * demand: a full disk seen by one of its writer threads, and no thread to be had. The fault is a
 * prelude run before the script in the same `python3 -c` (it replaces `os.write` or
 * `threading.Thread.start`); everything else is the script as the instance runs it.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_MANIFEST_MISSING, EXIT_NO_SPACE } from "../../src/dataset";
import { REMOTE_VERIFY_PY, WHOLE_FILE_MAX_BYTES } from "../../src/dataset/remote-verify";
import { hashTree, tarOf } from "./fixtures";

/** `os.write` raises ENOSPC from a writer thread's `nth` call on (the reading thread never writes files). */
const DISK_FULL_IN_WRITERS = (nth: number) => `
import errno, os, threading
_write, _calls = os.write, [0]
def _full(fd, data):
    if threading.current_thread() is not threading.main_thread():
        _calls[0] += 1
        if _calls[0] >= ${nth}:
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
    return _write(fd, data)
os.write = _full
`;

const NO_THREADS = `
import threading
def _refuse(self):
    raise RuntimeError("can't start new thread (injected)")
threading.Thread.start = _refuse
`;

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

const withManifest = (files: [string, Buffer][]): [string, Buffer | string][] => [
  ...files,
  ["MANIFEST.sha256", files.map(([name, data]) => `${sha256(data)}  ${name}\n`).join("")],
];

describe("the instance's extractor under injected faults", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "remote-verify-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  function extract(
    dest: string,
    stream: Buffer,
    prelude: string,
  ): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        "python3",
        ["-c", `${prelude}\n${REMOTE_VERIFY_PY}`, dest, "MANIFEST.sha256", ".dataset-verified", "none"],
        { stdio: ["pipe", "ignore", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.stdin.on("error", () => {}); // it may exit before reading everything
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stderr }));
      child.stdin.end(stream);
    });
  }

  const files: [string, Buffer][] = Array.from({ length: 40 }, (_, i) => [
    `f${String(i).padStart(2, "0")}.jpg`,
    Buffer.alloc(20_000, i),
  ]);

  it("a writer thread finding the disk full ends the push as no_space (exit 5)", async () => {
    const dest = join(dir, "full");
    const result = await extract(dest, await tarOf(withManifest(files)), DISK_FULL_IN_WRITERS(5));
    expect(result.code).toBe(EXIT_NO_SPACE);
    expect(result.stderr).toMatch(/disk is full/);
  });

  it("a full disk in a writer, then a cut stream: still no_space, and no half-written file left", async () => {
    const dest = join(dir, "full-then-cut");
    const big = Buffer.alloc(WHOLE_FILE_MAX_BYTES + 1024 * 1024, 7);
    const stream = await tarOf([
      ["a.jpg", Buffer.alloc(1000, 1)],
      ["big.png", big],
    ]);
    // Cut inside big.png, which the reading thread writes itself as it streams.
    const result = await extract(
      dest,
      stream.subarray(0, 512 + 1024 + 512 + 1024 * 1024),
      DISK_FULL_IN_WRITERS(1),
    );
    expect(result.code).toBe(EXIT_NO_SPACE);
    // a.jpg failed in its writer and was removed; big.png was cut and removed.
    expect(await readdir(dest)).toEqual([]);
  });

  it("a cut stream without faults keeps its whole files (the control for the case above)", async () => {
    const dest = join(dir, "cut");
    const stream = await tarOf([
      ["a.jpg", Buffer.alloc(1000, 1)],
      ["big.png", Buffer.alloc(WHOLE_FILE_MAX_BYTES + 1024 * 1024, 7)],
    ]);
    const result = await extract(dest, stream.subarray(0, 512 + 1024 + 512 + 1024 * 1024), "");
    expect(result.code).toBe(EXIT_MANIFEST_MISSING);
    expect(await readdir(dest)).toEqual(["a.jpg"]);
  });

  it("with no thread to be had, the reading thread writes every file and the push verifies", async () => {
    const dest = join(dir, "no-threads");
    const result = await extract(dest, await tarOf(withManifest(files)), NO_THREADS);
    expect(result.code).toBe(0);
    const arrived = await hashTree(dest);
    for (const [name, data] of files) expect(arrived.get(name)).toBe(sha256(data));
  });
});
