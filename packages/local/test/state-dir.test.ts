/**
 * The local stack's state folder: claiming it writes a lock and, once the stack is up, `stack.json`
 * with its endpoints; a second claim while the holder lives is refused and touches nothing; a lock
 * left by a process that died is taken over; releasing removes both files, and only while the lock
 * is still this process's.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claimStateDir, StackAlreadyRunningError, type StackFile } from "../src/state-dir";

let dir: string;
let holder: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "local-state-dir-test-"));
});

afterEach(async () => {
  if (holder && holder.exitCode === null && holder.signalCode === null) {
    const exited = new Promise((resolve) => holder?.once("exit", resolve));
    holder.kill("SIGKILL");
    await exited;
  }
  holder = undefined;
  await rm(dir, { recursive: true, force: true });
});

const STACK: StackFile = {
  apiUrl: "http://127.0.0.1:8787",
  apiKey: "local-api-key",
  vastUrl: "http://127.0.0.1:8788",
  vastKey: "sim-key",
};

const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as unknown;

/** A pid that belonged to a process which has ended (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  expect(child.status).toBe(0);
  return child.pid!;
}

/** Another live process (not this one), to hold a lock. */
async function liveProcess(): Promise<number> {
  holder = spawn("sleep", ["60"], { stdio: "ignore" });
  await new Promise((resolve, reject) => {
    holder?.once("spawn", resolve);
    holder?.once("error", reject);
  });
  return holder.pid!;
}

describe("the local stack's state folder", () => {
  it("claims a folder (creating it) with a lock naming this process, and writes stack.json for other tools", async () => {
    const path = join(dir, "nested", ".local");
    const state = await claimStateDir(path);
    expect(state.path).toBe(path);
    expect(state.stackFile).toBe(join(path, "stack.json"));
    expect(await readJson(join(path, "stack.lock"))).toEqual({ pid: process.pid });
    // stack.json appears only when the stack has its endpoints.
    expect(await readdir(path)).toEqual(["stack.lock"]);

    await state.writeStackFile(STACK);
    const written = await readJson(state.stackFile);
    expect(written).toEqual(STACK);
    expect(Object.keys(written as object)).toEqual(["apiUrl", "apiKey", "vastUrl", "vastKey"]);
    // It holds the API key: readable by its owner only.
    expect((await stat(state.stackFile)).mode & 0o777).toBe(0o600);

    await state.release();
    expect(await readdir(path)).toEqual([]);
  });

  it("refuses a second claim while the first holder lives, naming its pid and API, and leaves its files untouched", async () => {
    const first = await claimStateDir(dir);
    await first.writeStackFile(STACK);
    const lockBefore = await readFile(join(dir, "stack.lock"));
    const stackBefore = await readFile(join(dir, "stack.json"));

    const refused = await claimStateDir(dir).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StackAlreadyRunningError);
    expect(refused).toMatchObject({ pid: process.pid, apiUrl: STACK.apiUrl, stateDir: dir });
    expect((refused as Error).message).toBe(
      `another local stack is running (pid ${process.pid}, API ${STACK.apiUrl}): stop it with Ctrl-C, or give this one its own LOCAL_STATE_DIR and ports`,
    );
    expect(await readFile(join(dir, "stack.lock"))).toEqual(lockBefore);
    expect(await readFile(join(dir, "stack.json"))).toEqual(stackBefore);

    // The first still owns the folder.
    await first.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses a claim while another live process holds the lock, before that process wrote stack.json", async () => {
    const pid = await liveProcess();
    await writeFile(join(dir, "stack.lock"), JSON.stringify({ pid }));
    const refused = await claimStateDir(dir).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StackAlreadyRunningError);
    expect(refused).toMatchObject({ pid, apiUrl: null });
    expect((refused as Error).message).toBe(
      `another local stack is running (pid ${pid}): stop it with Ctrl-C, or give this one its own LOCAL_STATE_DIR and ports`,
    );
    expect(await readJson(join(dir, "stack.lock"))).toEqual({ pid });
  });

  it("takes over a lock left by a process that died, dropping its stale stack.json", async () => {
    const pid = deadPid();
    await writeFile(join(dir, "stack.lock"), JSON.stringify({ pid }));
    await writeFile(join(dir, "stack.json"), JSON.stringify({ ...STACK, apiUrl: "http://127.0.0.1:1" }));

    const state = await claimStateDir(dir);
    expect(await readJson(join(dir, "stack.lock"))).toEqual({ pid: process.pid });
    expect(await readdir(dir)).toEqual(["stack.lock"]);
    await state.release();
  });

  it("takes over a lock it cannot read (a crash while writing it)", async () => {
    await writeFile(join(dir, "stack.lock"), "");
    const state = await claimStateDir(dir);
    expect(await readJson(join(dir, "stack.lock"))).toEqual({ pid: process.pid });
    await state.release();
  });

  it("on release, leaves the files alone once another process holds the lock", async () => {
    const state = await claimStateDir(dir);
    await state.writeStackFile(STACK);
    // Say this stack's lock was taken over (it looked dead) by another that is running now.
    const pid = await liveProcess();
    await writeFile(join(dir, "stack.lock"), JSON.stringify({ pid }));
    await state.release();
    expect((await readdir(dir)).sort()).toEqual(["stack.json", "stack.lock"]);
    expect(await readJson(join(dir, "stack.lock"))).toEqual({ pid });
  });
});
