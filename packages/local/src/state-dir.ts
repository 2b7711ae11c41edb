/**
 * The stack's files on disk: `stack.json` (its endpoints, for scripts and other tools) and a lock
 * that keeps a second `npm start` from overwriting a running stack's file. A lock left by a stack
 * that died is taken over; one held by a live process is refused with its pid and API URL.
 */
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

/** What other tools read: `{ apiUrl, apiKey, vastUrl, vastKey }`. */
export interface StackFile {
  apiUrl: string;
  apiKey: string;
  vastUrl: string;
  /** The simulator's key; null when the stack drives real Vast (its key is never written). */
  vastKey: string | null;
}

export class StackAlreadyRunningError extends Error {
  override readonly name = "StackAlreadyRunningError";
  constructor(
    readonly pid: number,
    readonly apiUrl: string | null,
    readonly stateDir: string,
  ) {
    super(
      `another local stack is running (pid ${pid}${apiUrl ? `, API ${apiUrl}` : ""}): stop it with Ctrl-C, or give this one its own LOCAL_STATE_DIR and ports`,
    );
  }
}

export interface StateDir {
  readonly path: string;
  readonly stackFile: string;
  writeStackFile(stack: StackFile): Promise<void>;
  /** Removes stack.json and the lock (only if still ours). */
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch {
    return null;
  }
}

/** Takes the lock in `dir` (created if needed) for this process. */
export async function claimStateDir(dir: string): Promise<StateDir> {
  const path = resolve(dir);
  await mkdir(path, { recursive: true });
  const lock = join(path, "stack.lock");
  const stackFile = join(path, "stack.json");
  for (let tries = 0; ; tries++) {
    try {
      const handle = await open(lock, "wx");
      await handle.writeFile(JSON.stringify({ pid: process.pid }));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || tries > 0) throw error;
      const holder = await readJson(lock);
      const pid = typeof holder?.pid === "number" ? holder.pid : null;
      if (pid !== null && alive(pid)) {
        const running = await readJson(stackFile);
        throw new StackAlreadyRunningError(
          pid,
          typeof running?.apiUrl === "string" ? running.apiUrl : null,
          path,
        );
      }
      // Left by a stack that died: its files describe nothing that runs.
      await rm(lock, { force: true });
      await rm(stackFile, { force: true });
    }
  }
  return {
    path,
    stackFile,
    async writeStackFile(stack) {
      await writeFile(stackFile, `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
    },
    async release() {
      const holder = await readJson(lock);
      if (holder?.pid !== process.pid) return;
      await rm(stackFile, { force: true });
      await rm(lock, { force: true });
    },
  };
}
