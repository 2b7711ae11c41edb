/**
 * The simulated GPU environment inside an instance: `nvidia-smi`, `python`/`python3` wrappers and the
 * ai-toolkit training stand-in (also as the image's /app/ai-toolkit/run.py). They are bash scripts (bash is always there, python may not be) kept as
 * real files in ./shims, copied into a host folder that is bound read-only at SHIM_MOUNT, first on PATH.
 * They read the rented GPU from VAST_SIM_GPU_* and the time scale from VAST_SIM_TIME_SCALE, set per command.
 */
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the shim folder is bound (read-only) inside a confined instance. */
export const SHIM_MOUNT = "/opt/vast-sim/bin";

/** A line in run.py that tells the python wrapper this is the stand-in, not a real ai-toolkit checkout. */
export const STAND_IN_MARKER = "vast-sim training stand-in";

const SHIM_SOURCES: Record<string, string> = {
  "nvidia-smi": "nvidia-smi.sh",
  python: "python.sh",
  python3: "python.sh",
  "vast-sim-train": "vast-sim-train.sh",
};

/**
 * Where the image's own files are seen (read-only) inside a confined instance: ai-toolkit's image
 * installs it in /app/ai-toolkit, which is where the training templates say `run.py` is.
 */
export const IMAGE_APP_MOUNT = "/app";

/**
 * run.py as placed in /app/ai-toolkit (the image's) and /workspace/ai-toolkit: if a real python runs
 * it, it hands over to the stand-in too.
 */
export const RUN_PY = `#!/usr/bin/env python3
# ${STAND_IN_MARKER}: the simulated instance's ai-toolkit entry point (python run.py CONFIG).
import os
import sys

os.execvp("vast-sim-train", ["vast-sim-train", *sys.argv[1:]])
`;

/**
 * Writes what the simulated image holds under /app into `dir` (created if missing): the training
 * stand-in as ai-toolkit/run.py. The folder is the simulator's, bound read-only: an instance cannot
 * change it, as it cannot change another container's image.
 */
export async function writeImageFiles(dir: string): Promise<void> {
  await mkdir(join(dir, "ai-toolkit"), { recursive: true });
  await writeFile(join(dir, "ai-toolkit", "run.py"), RUN_PY, { mode: 0o755 });
}

/** Copies the shims into `dir` (created if missing), executable. */
export async function writeShims(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, source] of Object.entries(SHIM_SOURCES)) {
    const path = join(dir, name);
    await copyFile(fileURLToPath(new URL(`./shims/${source}`, import.meta.url)), path);
    await chmod(path, 0o755);
  }
}
