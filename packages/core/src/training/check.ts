/**
 * Reads a run's state from the files the launch wrapper leaves (one exec, a small key=value
 * report plus the log tail), so the poller learns status, exit code, progress, heartbeat age and
 * the log tail in one SSH round trip.
 */
import { z } from "zod";
import { type SshSession, shellCommand } from "../ssh";
import { DEFAULT_WORKSPACE_ROOT, jobPaths } from "./paths";

export const TrainingStatusSchema = z.enum(["not_started", "running", "succeeded", "failed"]);
export type TrainingStatus = z.infer<typeof TrainingStatusSchema>;

export interface TrainingCheck {
  status: TrainingStatus;
  exitCode: number | null;
  progress: { step: number; totalSteps: number } | null;
  heartbeatAgeSeconds: number | null;
  /** Last lines of train.log (carriage-return progress bars split into lines). */
  logTail: string;
  pid: number | null;
  /** The launch lock is taken: a launch ran (or is running) for this job, even if no pid was recorded. */
  launched: boolean;
  /** Why a run counts as failed without an exit code (e.g. the process vanished). */
  reason?: string;
}

const LOG_MARK = "---log---";

const REPORT = `jobdir=$1 tailbytes=$2
echo "now=$(date +%s)"
if [ -d "$jobdir/launch.lock" ]; then echo "locked=1"; fi
if [ -s "$jobdir/train.pid" ]; then
  pid=$(cat -- "$jobdir/train.pid")
  echo "pid=$pid"
  if kill -0 "$pid" 2>/dev/null; then echo "alive=1"; else echo "alive=0"; fi
fi
if [ -s "$jobdir/exit_code" ]; then echo "exit_code=$(cat -- "$jobdir/exit_code")"; fi
if [ -e "$jobdir/heartbeat" ]; then echo "heartbeat=$(stat -c %Y -- "$jobdir/heartbeat")"; fi
echo "${LOG_MARK}"
if [ -f "$jobdir/train.log" ]; then tail -c "$tailbytes" -- "$jobdir/train.log" | tr '\\r' '\\n'; fi
`;

export interface CheckTrainingOptions {
  jobId: string;
  workspaceRoot?: string;
  logTailLines?: number;
}

export async function checkTraining(
  session: SshSession,
  options: CheckTrainingOptions,
): Promise<TrainingCheck> {
  const { jobDir } = jobPaths(options.jobId, options.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT);
  const result = await session.exec(shellCommand`bash -c ${REPORT} check ${jobDir} ${64 * 1024}`, {
    maxCaptureBytes: 128 * 1024,
  });
  return parseTrainingReport(result.stdout, options.logTailLines ?? 40);
}

/** Exported for unit tests of edge cases (torn files, no log, odd progress formats). */
export function parseTrainingReport(stdout: string, tailLines = 40): TrainingCheck {
  const markAt = stdout.indexOf(`${LOG_MARK}\n`);
  const head = markAt >= 0 ? stdout.slice(0, markAt) : stdout;
  const log = markAt >= 0 ? stdout.slice(markAt + LOG_MARK.length + 1) : "";
  const fields = new Map<string, string>();
  for (const line of head.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const int = (key: string) => {
    const value = fields.get(key);
    return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : null;
  };
  const now = int("now");
  const heartbeat = int("heartbeat");
  const pid = int("pid");
  const exitCode = int("exit_code");
  const lines = log.split("\n").filter((l) => l.trim() !== "");
  const logTail = lines.slice(-tailLines).join("\n");
  const base = {
    exitCode,
    pid,
    progress: parseProgress(log),
    heartbeatAgeSeconds: now !== null && heartbeat !== null ? Math.max(0, now - heartbeat) : null,
    logTail,
    launched: fields.get("locked") === "1",
  };
  if (exitCode !== null) return { ...base, status: exitCode === 0 ? "succeeded" : "failed" };
  if (pid !== null && fields.get("alive") === "1") return { ...base, status: "running" };
  if (pid !== null) {
    return {
      ...base,
      status: "failed",
      reason: "training process is gone without an exit code (killed or rebooted)",
    };
  }
  return { ...base, status: "not_started" };
}

/**
 * ai-toolkit reports progress through tqdm: `name:  12%|█▏  | 240/2000 [05:12<38:00, 4.98it/s, ...]`,
 * redrawn with carriage returns (or one per line when not on a terminal); plainer loggers print
 * `step 240/2000`. Both forms count, wherever they sit on a line; the last one in the log wins.
 */
const PROGRESS = /(?<![\d/])(\d+)\/(\d+) \[|\bstep:?\s+(\d+)\s*\/\s*(\d+)(?![\d/])/gi;

export function parseProgress(log: string): { step: number; totalSteps: number } | null {
  let found: { step: number; totalSteps: number } | null = null;
  for (const match of log.matchAll(PROGRESS)) {
    const step = Number(match[1] ?? match[3]);
    const totalSteps = Number(match[2] ?? match[4]);
    if (totalSteps > 0 && step <= totalSteps) found = { step, totalSteps };
  }
  return found;
}
