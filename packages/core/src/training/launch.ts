/**
 * Starts ai-toolkit detached on the instance, exactly once. `mkdir <jobDir>/launch.lock` is the
 * guard: mkdir is atomic, so of two concurrent or redelivered launches only one proceeds; the
 * other reports `alreadyStarted` with the recorded pid. The run is wrapped so it leaves files the
 * poller can read over SSH at any time: train.log, train.pid, a heartbeat touched periodically
 * while the wrapper lives, and exit_code written (atomically) when the run ends. ai-toolkit's
 * folder and interpreter come from the job's template (`image.toolkitDir`, `image.python`).
 */
import { Readable } from "node:stream";
import { type Logger, silentLogger } from "../observability";
import { SshChannelError, type SshSession, shellCommand } from "../ssh";
import { DEFAULT_WORKSPACE_ROOT, jobPaths } from "./paths";

export interface LaunchTrainingOptions {
  jobId: string;
  workspaceRoot?: string;
  configYaml: string;
  /** The folder holding ai-toolkit's `run.py` (the template's `image.toolkitDir`). */
  toolkitDir: string;
  /** Interpreter for `run.py` (the template's `image.python`). */
  python: string;
  heartbeatIntervalSeconds?: number;
  logger?: Logger;
}

export interface LaunchResult {
  started: boolean;
  alreadyStarted: boolean;
  /** Wrapper pid; null if an earlier launch took the lock but never recorded one. */
  pid: number | null;
}

/**
 * Runs detached (setsid nohup); its own pid is the one recorded, written atomically. The heartbeat
 * loop stops with the run (killed, with its sleep) so nothing lingers after the exit code appears.
 */
const WRAPPER = `jobdir=$1 python=$2 config=$3 hb=$4
echo $$ > "$jobdir/train.pid.tmp" && mv -f -- "$jobdir/train.pid.tmp" "$jobdir/train.pid"
( trap 'kill "$s" 2>/dev/null; exit 0' TERM
  while kill -0 $$ 2>/dev/null; do touch -- "$jobdir/heartbeat"; sleep "$hb" & s=$!; wait "$s"; done
) > /dev/null 2>&1 < /dev/null &
beat=$!
# Vast hands the container's environment (HF_TOKEN, for gated models) to its first process, not
# to SSH sessions: take the token from there when this session lacks it. Never printed.
if [ -z "$HF_TOKEN" ] && [ -r /proc/1/environ ]; then
  HF_TOKEN=$(tr '\\0' '\\n' < /proc/1/environ | sed -n 's/^HF_TOKEN=//p' | head -n 1)
  if [ -n "$HF_TOKEN" ]; then export HF_TOKEN; fi
fi
"$python" run.py "$config"
code=$?
kill "$beat" 2>/dev/null
touch -- "$jobdir/heartbeat"
echo "$code" > "$jobdir/exit_code.tmp" && mv -f -- "$jobdir/exit_code.tmp" "$jobdir/exit_code"
`;

const LAUNCH = `set -eu
jobdir=$1 toolkit=$2 config=$3 python=$4 hb=$5 wrapper=$6
# A connection dropping mid-launch must not leave the lock taken and nothing started.
trap '' HUP
mkdir -p -- "$jobdir"
if ! mkdir -- "$jobdir/launch.lock" 2>/dev/null; then
  echo "ALREADY_STARTED $(cat -- "$jobdir/train.pid" 2>/dev/null || true)"
  exit 0
fi
cat > "$config.tmp"
mv -f -- "$config.tmp" "$config"
cd -- "$toolkit"
setsid nohup bash -c "$wrapper" train "$jobdir" "$python" "$config" "$hb" > "$jobdir/train.log" 2>&1 < /dev/null &
i=0
while [ ! -s "$jobdir/train.pid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
echo "STARTED $(cat -- "$jobdir/train.pid" 2>/dev/null || true)"
`;

export async function launchTraining(
  session: SshSession,
  options: LaunchTrainingOptions,
): Promise<LaunchResult> {
  const logger = options.logger ?? silentLogger;
  const paths = jobPaths(options.jobId, options.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT);
  const heartbeat = options.heartbeatIntervalSeconds ?? 30;
  if (!Number.isInteger(heartbeat) || heartbeat < 1)
    throw new RangeError("heartbeat interval must be a whole number of seconds");
  const command = shellCommand`bash -c ${LAUNCH} launch ${paths.jobDir} ${options.toolkitDir} ${paths.configPath} ${options.python} ${heartbeat} ${WRAPPER}`;
  const result = await session.exec(command, { stdin: Readable.from([Buffer.from(options.configYaml)]) });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  const match = /^(STARTED|ALREADY_STARTED) ?(\d*)$/.exec(line);
  if (result.exitCode !== 0 || !match) {
    throw new SshChannelError(
      `training launch for ${options.jobId} failed (exit ${result.exitCode ?? result.signal}): ${result.stderr.slice(-1000).trim()}`,
    );
  }
  const pid = match[2] ? Number(match[2]) : null;
  const started = match[1] === "STARTED";
  logger.info(started ? "training started" : "training already started", { jobId: options.jobId, pid });
  return { started, alreadyStarted: !started, pid };
}
