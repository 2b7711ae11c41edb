/**
 * The check vitest's global setup runs around the whole suite: new entries in watched folders fail the
 * run, and so do entries named like our probe files whenever they appeared; tool folders in the repository do not, and the repository's .tmp may appear but must be left empty.
 * Exercised on a stand-in repository in a temporary folder.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { leftoversError, newHostEntries, snapshotHost } from "../support/host-leftovers";

let repo: string;

beforeEach(async () => {
  repo = await mkdtemp(join(tmpdir(), "vast-rental-leftovers-test-"));
  await writeFile(join(repo, "package.json"), "{}\n");
});

afterEach(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe("host leftovers check", () => {
  it("finds nothing when nothing new appeared", () => {
    const before = snapshotHost(repo);
    expect(leftoversError(before, repo)).toBeNull();
  });

  it("names new entries in the repository, but not its tool folders", async () => {
    const before = snapshotHost(repo);
    await writeFile(join(repo, "out.txt"), "left by a test\n");
    await mkdir(join(repo, "node_modules"));
    await mkdir(join(repo, "coverage"));
    expect(newHostEntries(before, repo)).toEqual([join(repo, "out.txt")]);
    expect(leftoversError(before, repo)?.message).toBe(
      "the test run left 1 new entry outside its temporary folders (tests must write only under folders " +
        `they create in os.tmpdir()): ${join(repo, "out.txt")}`,
    );
  });

  it("names an entry called like our probe files even when it was there before the run", async () => {
    await writeFile(join(repo, "vast-sim-probe-0a1b2c3d"), "");
    const before = snapshotHost(repo);
    expect(newHostEntries(before, repo)).toEqual([]);
    expect(leftoversError(before, repo)?.message).toBe(
      `1 entry named like this project's test files is outside the temporary folders, left by an earlier run: ` +
        `${join(repo, "vast-sim-probe-0a1b2c3d")} (find the test that wrote it, then delete it)`,
    );
  });

  it("lets .tmp appear but not keep anything", async () => {
    const before = snapshotHost(repo);
    await mkdir(join(repo, ".tmp"));
    expect(newHostEntries(before, repo)).toEqual([]);
    await mkdir(join(repo, ".tmp", "bundles-x"));
    expect(newHostEntries(before, repo)).toEqual([join(repo, ".tmp", "bundles-x")]);
  });
});
