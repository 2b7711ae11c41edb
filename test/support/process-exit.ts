/**
 * Waiting for a process on this machine to end (a training wrapper started over SSH on the test
 * sshd), so a test's cleanup does not delete folders the process is still writing into.
 */
import { readFile } from "node:fs/promises";
import { pollUntil } from "./poll";

/** Alive and not a zombie (a zombie has finished; only its parent has yet to reap it). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // The state follows the parenthesised command name: "pid (comm) S ...".
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** Resolves once `pid` has ended, or after `timeoutMs` (cleanup goes on either way). */
export async function untilProcessExits(pid: number, timeoutMs = 5_000): Promise<void> {
  await pollUntil(async () => ((await isRunning(pid)) ? undefined : true), timeoutMs, 20);
}
