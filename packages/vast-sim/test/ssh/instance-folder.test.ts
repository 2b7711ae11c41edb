/**
 * The simulator writes into an instance's folder from the host (the training stand-in's run.py, its
 * behaviour file). The folder belongs to the instance, whose root may have planted symbolic links there:
 * the simulator refuses them and writes nothing through them. Every link points into a folder this test
 * owns, so a failure would write there, never into a real host path.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InstanceFolderError, prepareInstanceFolder, setTrainingBehaviour } from "../../src/ssh";
import { RUN_PY } from "../../src/ssh/shims";
import { startTestInstance, type TestInstance } from "./support";

let owned: string;
let rootDir: string;
let outside: string;

beforeEach(async () => {
  owned = await mkdtemp(join(tmpdir(), "vast-sim-folder-test-"));
  rootDir = join(owned, "instance");
  outside = join(owned, "outside");
  await mkdir(outside);
});

afterEach(async () => {
  await rm(owned, { recursive: true, force: true });
});

const behaviour = { durationSeconds: 5, fail: false };

describe("instance folder preparation", () => {
  it("writes run.py and the behaviour file into a fresh folder, and keeps a run.py already there", async () => {
    await prepareInstanceFolder(rootDir);
    expect(await readFile(join(rootDir, "ai-toolkit", "run.py"), "utf8")).toBe(RUN_PY);
    await writeFile(join(rootDir, "ai-toolkit", "run.py"), "uploaded\n");
    await prepareInstanceFolder(rootDir);
    expect(await readFile(join(rootDir, "ai-toolkit", "run.py"), "utf8")).toBe("uploaded\n");

    await setTrainingBehaviour(rootDir, behaviour);
    await setTrainingBehaviour(rootDir, { durationSeconds: 1, fail: true });
    expect(JSON.parse(await readFile(join(rootDir, ".vast-sim", "training.json"), "utf8"))).toEqual({
      durationSeconds: 1,
      fail: true,
    });
  });

  describe("when the instance replaced /workspace/ai-toolkit with a link to a host folder", () => {
    let t: TestInstance | undefined;

    afterEach(async () => {
      await t?.cleanup();
      t = undefined;
    });

    it("refuses, naming the link, and writes nothing through it", async () => {
      t = await startTestInstance();
      const planted = await t.exec(`rm -rf /workspace/ai-toolkit && ln -s ${outside} /workspace/ai-toolkit`);
      expect(planted.code).toBe(0);
      const attempt = prepareInstanceFolder(t.rootDir);
      await expect(attempt).rejects.toThrow(InstanceFolderError);
      await expect(attempt).rejects.toThrow("/workspace/ai-toolkit is a symbolic link");
      expect(await readdir(outside)).toEqual([]);
    });
  });

  it("refuses a run.py that is a link, even a dangling one", async () => {
    await mkdir(join(rootDir, "ai-toolkit"), { recursive: true });
    await symlink(join(outside, "run.py"), join(rootDir, "ai-toolkit", "run.py"));
    await expect(prepareInstanceFolder(rootDir)).rejects.toThrow(
      "/workspace/ai-toolkit/run.py is a symbolic link",
    );
    expect(await readdir(outside)).toEqual([]);
  });

  it("refuses a .vast-sim folder that is a link", async () => {
    await mkdir(rootDir);
    await symlink(outside, join(rootDir, ".vast-sim"));
    await expect(setTrainingBehaviour(rootDir, behaviour)).rejects.toThrow(
      "/workspace/.vast-sim is a symbolic link",
    );
    expect(await readdir(outside)).toEqual([]);
  });

  it("refuses a behaviour file that is a link, leaving its target unchanged", async () => {
    await writeFile(join(outside, "target"), "host file\n");
    await mkdir(join(rootDir, ".vast-sim"), { recursive: true });
    await symlink(join(outside, "target"), join(rootDir, ".vast-sim", "training.json"));
    await expect(setTrainingBehaviour(rootDir, behaviour)).rejects.toThrow(InstanceFolderError);
    expect(await readFile(join(outside, "target"), "utf8")).toBe("host file\n");
  });

  it("refuses a behaviour file that is a FIFO instead of blocking on it", async () => {
    await mkdir(join(rootDir, ".vast-sim"), { recursive: true });
    execFileSync("mkfifo", [join(rootDir, ".vast-sim", "training.json")]);
    await expect(setTrainingBehaviour(rootDir, behaviour)).rejects.toThrow("is not a plain file");
  });

  it("refuses a behaviour file with a second hard link", async () => {
    await mkdir(join(rootDir, ".vast-sim"), { recursive: true });
    await writeFile(join(rootDir, "elsewhere"), "kept\n");
    execFileSync("ln", [join(rootDir, "elsewhere"), join(rootDir, ".vast-sim", "training.json")]);
    await expect(setTrainingBehaviour(rootDir, behaviour)).rejects.toThrow("is a hard link");
    expect(await readFile(join(rootDir, "elsewhere"), "utf8")).toBe("kept\n");
  });
});
