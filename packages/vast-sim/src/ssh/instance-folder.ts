/**
 * What the simulator puts into an instance's folder: the ai-toolkit entry point the orchestrator runs,
 * and the training stand-in's behaviour file.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RUN_PY } from "./shims";
import { type SimTrainingBehaviour, SimTrainingBehaviourSchema } from "./types";

/** Host path of the behaviour file; inside the instance it is /root/.vast-sim/training.json. */
export function trainingBehaviourPath(rootDir: string): string {
  return join(rootDir, ".vast-sim", "training.json");
}

/** Writes the training stand-in at /workspace/ai-toolkit/run.py unless something is already there. */
export async function prepareInstanceFolder(rootDir: string): Promise<void> {
  const toolkit = join(rootDir, "ai-toolkit");
  await mkdir(toolkit, { recursive: true });
  const runPy = join(toolkit, "run.py");
  const existing = await stat(runPy).catch(() => null);
  if (!existing) await writeFile(runPy, RUN_PY, { mode: 0o755 });
}

/**
 * Records how the next training run behaves. One key per line, because the stand-in reads it with
 * grep/sed (see shims/vast-sim-train.sh).
 */
export async function setTrainingBehaviour(rootDir: string, behaviour: SimTrainingBehaviour): Promise<void> {
  const valid = SimTrainingBehaviourSchema.parse(behaviour);
  const path = trainingBehaviourPath(rootDir);
  await mkdir(join(rootDir, ".vast-sim"), { recursive: true });
  await writeFile(path, `${JSON.stringify(valid, null, 2)}\n`);
}
