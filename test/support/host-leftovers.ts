/**
 * The suite leaves nothing outside its temporary folders, checked by the run itself: vitest's global setup
 * lists the folders a test could plausibly write into by mistake (a relative path lands in the repository;
 * an unconfined command in a simulated instance would land in /, /etc, /usr or root's home) before the
 * first test, and fails the run when new entries are there after the last one, or entries named like our
 * temporary and probe files (left by an earlier run). Tests write only under folders they create with
 * mkdtemp in os.tmpdir().
 */
import { readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Repository entries made by tools rather than tests (dependencies, SST's platform, `npm start`'s state). */
const REPO_TOOL_ENTRIES = new Set(["node_modules", ".git", ".sst", ".local", "coverage", "dist", ".tmp"]);

/** Folders whose entries are compared: their own entries only, not their subtrees. */
function watchedFolders(repoRoot: string): string[] {
  const folders = ["/", "/etc", "/usr", "/usr/local", "/usr/local/bin", "/opt", "/home", "/var/tmp", "/root"];
  folders.push(homedir(), repoRoot, join(repoRoot, ".tmp"));
  return [...new Set(folders)];
}

export type HostSnapshot = Map<string, Set<string>>;

function entries(folder: string): Set<string> {
  try {
    return new Set(readdirSync(folder));
  } catch {
    return new Set();
  }
}

export function snapshotHost(repoRoot: string): HostSnapshot {
  return new Map(watchedFolders(repoRoot).map((folder) => [folder, entries(folder)]));
}

/** Paths that appeared since `before` (repository tool folders excepted; `.tmp` may appear, not fill up). */
export function newHostEntries(before: HostSnapshot, repoRoot: string): string[] {
  const found: string[] = [];
  for (const [folder, had] of before) {
    for (const name of entries(folder)) {
      if (had.has(name)) continue;
      if (folder === repoRoot && REPO_TOOL_ENTRIES.has(name)) continue;
      found.push(join(folder, name));
    }
  }
  return found.sort();
}

/**
 * Names this project gives its temporary folders and probe files. Such an entry in a watched folder was
 * left by a test even when it predates the run (an earlier run, an older version of a test), which the
 * before/after comparison alone cannot see.
 */
const OUR_TEST_NAMES = /^vast-(sim|rental)-/;

/** Entries in the watched folders that carry our test names, whenever they appeared. */
export function testNamedEntries(snapshot: HostSnapshot): string[] {
  const found: string[] = [];
  for (const folder of snapshot.keys()) {
    for (const name of entries(folder)) if (OUR_TEST_NAMES.test(name)) found.push(join(folder, name));
  }
  return found.sort();
}

/** The error the run fails with, or null when nothing was left. */
export function leftoversError(before: HostSnapshot, repoRoot: string): Error | null {
  const fresh = newHostEntries(before, repoRoot);
  const earlier = testNamedEntries(before).filter((path) => !fresh.includes(path));
  if (fresh.length === 0 && earlier.length === 0) return null;
  const parts: string[] = [];
  if (fresh.length > 0) {
    parts.push(
      `the test run left ${fresh.length} new ${fresh.length === 1 ? "entry" : "entries"} outside its temporary ` +
        `folders (tests must write only under folders they create in os.tmpdir()): ${fresh.join(", ")}`,
    );
  }
  if (earlier.length > 0) {
    parts.push(
      `${earlier.length} ${earlier.length === 1 ? "entry" : "entries"} named like this project's test files ` +
        `${earlier.length === 1 ? "is" : "are"} outside the temporary folders, left by an earlier run: ` +
        `${earlier.join(", ")} (find the test that wrote ${earlier.length === 1 ? "it" : "them"}, then delete ${earlier.length === 1 ? "it" : "them"})`,
    );
  }
  return new Error(parts.join("; "));
}
