/**
 * scripts/prerequisites.sh, which `npm test`, `.ci/run` and vitest's global setup run: quiet when everything
 * is there; otherwise one line naming what is missing and the command that installs it, or — as root on
 * Debian/Ubuntu, and not with --check — apt-get installs it. A PATH without some programs stands in for a
 * fresh machine, and a fake apt-get records what it was asked instead of installing anything.
 */
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PREREQUISITES_SCRIPT } from "../support/prerequisites";

/** Programs the script itself uses, and those it looks for that this fresh machine does have. */
const PRESENT = ["sh", "sed", "awk", "head", "uname", "id", "grep", "tr", "cat", "apt-cache", "java"];
const PRESENT_CLIENTS = ["ssh", "sftp", "scp", "ssh-keygen"];
const MISSING_LINE = "missing bubblewrap (bwrap), nsenter and setpriv, openssl, python3";
const PACKAGES = "bubblewrap util-linux openssl python3-minimal";

const whichPath = (name: string): string => {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  if (!found) throw new Error(`${name} is not on this machine's PATH`);
  return found;
};

const debianLike = async (): Promise<boolean> => {
  const release = await readFile("/etc/os-release", "utf8").catch(() => "");
  const ids = /^ID=(.*)$/m.exec(release)?.[1] ?? "";
  const like = /^ID_LIKE=(.*)$/m.exec(release)?.[1] ?? "";
  return /\b(debian|ubuntu)\b/.test(`${ids} ${like}`.replaceAll('"', "")) && whichPath("apt-get") !== "";
};

let bin: string;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vast-rental-prereq-test-"));
  bin = join(dir, "bin");
  await mkdir(bin);
  for (const name of [...PRESENT, ...PRESENT_CLIENTS]) await symlink(whichPath(name), join(bin, name));
  // Records its arguments, installs nothing.
  await writeFile(join(bin, "apt-get"), `#!/bin/sh\necho "apt-get $*" >> ${join(dir, "apt-get.log")}\n`);
  await chmod(join(bin, "apt-get"), 0o755);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[], path = bin) =>
  spawnSync("sh", [PREREQUISITES_SCRIPT, ...args], {
    encoding: "utf8",
    env: { PATH: path },
    timeout: 30_000,
  });

const aptLog = () => readFile(join(dir, "apt-get.log"), "utf8").catch(() => "");

describe("scripts/prerequisites.sh", () => {
  it("is quiet and succeeds on this machine, which has everything", () => {
    const result = spawnSync("sh", [PREREQUISITES_SCRIPT, "--check"], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });

  it("--check: one line naming what is missing and the command installing it; installs nothing", async () => {
    const result = run(["--check"]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`prerequisites: ${MISSING_LINE}`);
    expect(lines[0]).toContain(`apt-get install -y --no-install-recommends ${PACKAGES}`);
    expect(await aptLog()).toBe("");
  });

  it("without --check: as root on Debian/Ubuntu it runs apt-get; otherwise it prints the one line", async () => {
    const result = run([]);
    expect(result.status).toBe(1);
    if (process.getuid?.() === 0 && (await debianLike())) {
      expect(await aptLog()).toBe(
        `apt-get update -qq\napt-get install -y -qq --no-install-recommends ${PACKAGES}\n`,
      );
      // The fake apt-get installed nothing, and the script noticed.
      expect(result.stderr.trim().split("\n").at(-1)).toBe(
        "prerequisites: still missing after apt-get install: bubblewrap (bwrap), nsenter and setpriv, openssl, python3",
      );
    } else {
      expect(await aptLog()).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(MISSING_LINE);
    }
  });
});
