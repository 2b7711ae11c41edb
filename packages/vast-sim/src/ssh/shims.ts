/**
 * The simulated GPU environment inside an instance: `nvidia-smi`, `df` for the instance's disk,
 * `python`/`python3` wrappers with a PyTorch stand-in, and the ai-toolkit training stand-in. They are
 * bash scripts (bash is always there, python may not be) kept as real files in ./shims, copied into a
 * host folder that is bound read-only at SHIM_MOUNT, first on PATH. They read the rented GPU from
 * VAST_SIM_GPU_*, the host around it (driver, disk, torch: see host-profile.ts) from the other VAST_SIM_*
 * variables and the time scale from VAST_SIM_TIME_SCALE, set per command.
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
  df: "df.sh",
  python: "python.sh",
  python3: "python.sh",
  "vast-sim-train": "vast-sim-train.sh",
};

/** run.py as placed in ai-toolkit's folders: if a real python runs it, it hands over to the stand-in too. */
export const RUN_PY = `#!/usr/bin/env python3
# ${STAND_IN_MARKER}: the simulated instance's ai-toolkit entry point (python run.py CONFIG).
import os
import sys

os.execvp("vast-sim-train", ["vast-sim-train", *sys.argv[1:]])
`;

/** Copies the shims into `dir` (created if missing), executable, and the PyTorch stand-in into `dir/pylib`. */
export async function writeShims(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, source] of Object.entries(SHIM_SOURCES)) {
    const path = join(dir, name);
    await copyFile(fileURLToPath(new URL(`./shims/${source}`, import.meta.url)), path);
    await chmod(path, 0o755);
  }
  await mkdir(join(dir, "pylib", "torch"), { recursive: true });
  await copyFile(
    fileURLToPath(new URL("./shims/torch.py", import.meta.url)),
    join(dir, "pylib", "torch", "__init__.py"),
  );
}

/**
 * A folder holding only the run.py stand-in, for ai-toolkit folders outside the instance folder (bound
 * read-only into the instance, e.g. at /app/ai-toolkit).
 */
export async function writeAiToolkitStandIn(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "run.py"), RUN_PY, { mode: 0o755 });
}
