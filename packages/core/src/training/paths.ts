/**
 * Where a job lives on an instance. Everything for a job sits under `<workspaceRoot>/jobs/<jobId>`
 * (workspaceRoot is `/workspace` on Vast, a temp folder in tests), so one validated id and one
 * validated root decide every remote path.
 */
import { z } from "zod";
import { hasControlCharacters } from "../input";

export const DEFAULT_WORKSPACE_ROOT = "/workspace";

/** Job ids become folder names on the instance: a conservative alphabet, no dots. */
export const RemoteJobIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, "job id may contain only letters, digits, '_' and '-'");

export const WorkspaceRootSchema = z
  .string()
  .min(2)
  .max(512)
  .refine((s) => s.startsWith("/"), "workspace root must be an absolute path")
  .refine((s) => !s.split("/").includes(".."), "workspace root may not contain '..'")
  .refine((s) => !hasControlCharacters(s), "workspace root may not contain control characters")
  .transform((s) => (s.length > 1 ? s.replace(/\/+$/, "") : s));

export interface JobPaths {
  workspaceRoot: string;
  jobDir: string;
  datasetDir: string;
  configPath: string;
  /** ai-toolkit's `training_folder`: it writes `<training_folder>/<name>/*.safetensors`. */
  trainingFolder: string;
  logPath: string;
  pidPath: string;
  exitCodePath: string;
  heartbeatPath: string;
  launchLock: string;
}

export function jobPaths(jobId: string, workspaceRoot: string = DEFAULT_WORKSPACE_ROOT): JobPaths {
  const root = WorkspaceRootSchema.parse(workspaceRoot);
  const id = RemoteJobIdSchema.parse(jobId);
  const jobDir = `${root}/jobs/${id}`;
  return {
    workspaceRoot: root,
    jobDir,
    datasetDir: `${jobDir}/dataset`,
    configPath: `${jobDir}/config.yaml`,
    trainingFolder: `${jobDir}/output`,
    logPath: `${jobDir}/train.log`,
    pidPath: `${jobDir}/train.pid`,
    exitCodePath: `${jobDir}/exit_code`,
    heartbeatPath: `${jobDir}/heartbeat`,
    launchLock: `${jobDir}/launch.lock`,
  };
}
