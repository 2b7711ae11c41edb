/**
 * What the simulator puts into an instance's folder: the ai-toolkit entry point the orchestrator runs,
 * and the training stand-in's behaviour file.
 *
 * The folder belongs to the instance: anything in it may have been replaced by the instance's root, e.g.
 * `/workspace/ai-toolkit` by a symbolic link to a host folder. The simulator runs on the host, so it never
 * follows a link there: every folder on the way is opened with O_NOFOLLOW and the next name is resolved
 * under that open folder (`/proc/self/fd/N/name`, so swapping a folder for a link after the check changes
 * nothing), files are created with O_EXCL or opened with O_NOFOLLOW and must be plain files with one
 * link. A link, or anything that is not a plain folder or file, is refused with InstanceFolderError.
 */
import { constants, existsSync } from "node:fs";
import { type FileHandle, lstat, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { RUN_PY } from "./shims";
import { type SimTrainingBehaviour, SimTrainingBehaviourSchema } from "./types";

/** Something in the instance folder is a symbolic link (or not a plain file/folder): nothing was written through it. */
export class InstanceFolderError extends Error {
  override readonly name = "InstanceFolderError";
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** Linux resolves a name under an open folder through this; elsewhere (unconfined only) the path is used. */
const PROC_FD = existsSync("/proc/self/fd") ? "/proc/self/fd" : null;

interface OpenFolder {
  handle: FileHandle;
  /** Host path, used only where /proc/self/fd is missing. */
  path: string;
  /** The path as the instance sees it, for messages. */
  shown: string;
}

function under(folder: OpenFolder, name: string): string {
  return PROC_FD ? `${PROC_FD}/${folder.handle.fd}/${name}` : join(folder.path, name);
}

function refuse(shown: string, what: string): InstanceFolderError {
  return new InstanceFolderError(
    `instance folder: ${shown} is ${what}; refusing to write through it (the instance may have planted it)`,
  );
}

async function openFolder(path: string, hostPath: string, shown: string): Promise<OpenFolder> {
  try {
    const handle = await open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    return { handle, path: hostPath, shown };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ELOOP" && code !== "ENOTDIR") throw error;
    // O_DIRECTORY | O_NOFOLLOW on a link answers ELOOP or ENOTDIR depending on the kernel: say which it is.
    const link = await lstat(path).then(
      (stats) => stats.isSymbolicLink(),
      () => false,
    );
    throw refuse(shown, link ? "a symbolic link" : "not a folder");
  }
}

/** Opens (creating if missing) the folder `name` inside `parent`. */
async function folderIn(parent: OpenFolder, name: string): Promise<OpenFolder> {
  await mkdir(under(parent, name)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  return openFolder(under(parent, name), join(parent.path, name), `${parent.shown}/${name}`);
}

async function withFolders<T>(
  rootDir: string,
  names: readonly string[],
  body: (folder: OpenFolder) => Promise<T>,
): Promise<T> {
  const opened: OpenFolder[] = [];
  try {
    opened.push(await openFolder(rootDir, rootDir, "/workspace"));
    for (const name of names) opened.push(await folderIn(opened[opened.length - 1] as OpenFolder, name));
    return await body(opened[opened.length - 1] as OpenFolder);
  } finally {
    await Promise.all(opened.map((f) => f.handle.close()));
  }
}

/** Opens `name` in `folder` for writing without following a link; O_NONBLOCK so a planted FIFO cannot hang us. */
async function openFileIn(
  folder: OpenFolder,
  name: string,
  flags: number,
  mode: number,
): Promise<FileHandle> {
  const shown = `${folder.shown}/${name}`;
  let handle: FileHandle;
  try {
    handle = await open(under(folder, name), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | flags, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw refuse(shown, "a symbolic link");
    if (code === "ENXIO" || code === "EISDIR") throw refuse(shown, "not a plain file");
    throw error;
  }
  const stats = await handle.stat();
  if (!stats.isFile() || stats.nlink !== 1) {
    await handle.close();
    throw refuse(shown, stats.isFile() ? "a hard link" : "not a plain file");
  }
  return handle;
}

/** Host path of the behaviour file; inside the instance it is /root/.vast-sim/training.json. */
export function trainingBehaviourPath(rootDir: string): string {
  return join(rootDir, ".vast-sim", "training.json");
}

export interface PrepareInstanceFolderOptions {
  /**
   * Folders inside the instance folder (relative, e.g. "ai-toolkit" for /workspace/ai-toolkit) that get
   * the training stand-in's run.py; default ["ai-toolkit"]; empty for a host without ai-toolkit.
   */
  aiToolkitDirs?: readonly string[];
}

/**
 * Writes the training stand-in at /workspace/ai-toolkit/run.py (or in each of `aiToolkitDirs`) unless a
 * file is already there. Throws InstanceFolderError when a folder on the way or run.py is a symbolic link.
 */
export async function prepareInstanceFolder(
  rootDir: string,
  options: PrepareInstanceFolderOptions = {},
): Promise<void> {
  await mkdir(rootDir, { recursive: true });
  for (const dir of options.aiToolkitDirs ?? ["ai-toolkit"]) await writeRunPy(rootDir, dir.split("/"));
}

async function writeRunPy(rootDir: string, names: readonly string[]): Promise<void> {
  await withFolders(rootDir, names, async (toolkit) => {
    let handle: FileHandle;
    try {
      handle = await openFileIn(toolkit, "run.py", O_CREAT | O_EXCL, 0o755);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // Kept as it is (the orchestrator may have uploaded a real ai-toolkit), unless it is a link.
      const existing = await lstat(under(toolkit, "run.py"));
      if (existing.isSymbolicLink()) throw refuse(`${toolkit.shown}/run.py`, "a symbolic link");
      return;
    }
    try {
      await handle.writeFile(RUN_PY);
    } finally {
      await handle.close();
    }
  });
}

/**
 * Lets a run held by `holdAfterTicks` go on: the stand-in waits for `.vast-sim/release` (and removes
 * it when it goes on, so the next run holds again).
 */
export async function releaseTraining(rootDir: string): Promise<void> {
  await withFolders(rootDir, [".vast-sim"], async (folder) => {
    const handle = await openFileIn(folder, "release", O_CREAT, 0o644);
    await handle.close();
  });
}

/**
 * Records how the next training run behaves. One key per line, because the stand-in reads it with
 * grep/sed (see shims/vast-sim-train.sh). Throws InstanceFolderError when /root/.vast-sim or the file in
 * it is a symbolic link.
 */
export async function setTrainingBehaviour(rootDir: string, behaviour: SimTrainingBehaviour): Promise<void> {
  const valid = SimTrainingBehaviourSchema.parse(behaviour);
  await withFolders(rootDir, [".vast-sim"], async (folder) => {
    const handle = await openFileIn(folder, "training.json", O_CREAT, 0o644);
    try {
      await handle.truncate(0);
      await handle.writeFile(`${JSON.stringify(valid, null, 2)}\n`);
    } finally {
      await handle.close();
    }
  });
}
