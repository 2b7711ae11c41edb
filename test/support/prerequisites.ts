/**
 * The system prerequisites, checked before the first test by the same script `npm test` and `.ci/run`
 * run (scripts/prerequisites.sh, which says what each program is for). When one is missing the run stops
 * with the script's one line — what is missing and the command that installs it — instead of dozens of
 * tests failing with `spawn /usr/sbin/sshd ENOENT`.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const PREREQUISITES_SCRIPT = fileURLToPath(new URL("../../scripts/prerequisites.sh", import.meta.url));

/** Throws an Error whose message is the script's line when a prerequisite is missing. */
export function checkPrerequisites(): void {
  const result = spawnSync("sh", [PREREQUISITES_SCRIPT, "--check"], { encoding: "utf8", timeout: 60_000 });
  if (result.status === 0) return;
  const line =
    `${result.stderr ?? ""}`.trim() ||
    `prerequisites: sh ${PREREQUISITES_SCRIPT} --check failed (${result.error?.message ?? `exit ${result.status}`})`;
  const error = new Error(line);
  error.stack = `Error: ${line}`; // the line is the whole story: no code frame
  throw error;
}
