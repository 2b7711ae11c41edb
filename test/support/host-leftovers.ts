/**
 * The suite leaves nothing outside its temporary folders, checked by the run itself: vitest's global setup
 * lists the folders a test could plausibly write into by mistake (a relative path lands in the repository;
 * an unconfined command in a simulated instance would land in /, /etc, /usr or root's home) before the
 * first test, and fails the run when new entries are there after the last one. Tests write only under
 * folders they create with mkdtemp in os.tmpdir().
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

/** The error the run fails with, or null when nothing was left. */
export function leftoversError(before: HostSnapshot, repoRoot: string): Error | null {
  const found = newHostEntries(before, repoRoot);
  if (found.length === 0) return null;
  return new Error(
    `the test run left ${found.length} new ${found.length === 1 ? "entry" : "entries"} outside its temporary ` +
      `folders (tests must write only under folders they create in os.tmpdir()): ${found.join(", ")}`,
  );
}
