/**
 * Runs the pre-flight check on an instance: one exec of the report script (every value quoted by
 * `shellCommand`), its output parsed and judged. A report that cannot be read is a failed check
 * (`report_unparseable`): a host that does not answer a plain shell script sanely is not one to
 * train on. Transport failures (connect, channel, the overall deadline) throw instead, so the
 * caller can look again later rather than blame the host for the network.
 */
import { SshChannelError, type SshSession, type SshTarget, shellCommand } from "../ssh";
import { evaluatePreflight, type PreflightOutcome } from "./evaluate";
import { PREFLIGHT_SCRIPT, PreflightReportError, parsePreflightReport } from "./report";
import { type PreflightRequirements, PreflightRequirementsSchema } from "./requirements";

export interface RunPreflightOptions {
  /** Seconds each probe on the host may take (nvidia-smi, df, importing torch). */
  stepTimeoutSeconds?: number;
  /** Aborts the exec (the caller's deadline). */
  signal?: AbortSignal;
}

export const DEFAULT_PREFLIGHT_STEP_SECONDS = 20;

/** The command line `runPreflight` executes (exported for tests that run it elsewhere). */
export function preflightCommand(requirements: PreflightRequirements, stepTimeoutSeconds: number): string {
  const needs = PreflightRequirementsSchema.parse(requirements);
  return shellCommand`bash -c ${PREFLIGHT_SCRIPT} preflight ${needs.workspaceDir} ${needs.aiToolkitDir} ${needs.pythonCommand} ${stepTimeoutSeconds}`;
}

export async function runPreflight(
  session: SshSession,
  requirements: PreflightRequirements,
  options: RunPreflightOptions = {},
): Promise<PreflightOutcome> {
  const step = options.stepTimeoutSeconds ?? DEFAULT_PREFLIGHT_STEP_SECONDS;
  if (!Number.isInteger(step) || step < 1)
    throw new RangeError("step timeout must be a whole number of seconds");
  const result = await session.exec(preflightCommand(requirements, step), {
    maxCaptureBytes: 64 * 1024,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (result.exitCode === null && result.signal === null) {
    // The channel closed without a status: the transport's doing, not the host's answer.
    throw new SshChannelError("the pre-flight command ended without an exit status");
  }
  try {
    return evaluatePreflight(parsePreflightReport(result.stdout), requirements);
  } catch (error) {
    if (!(error instanceof PreflightReportError)) throw error;
    const exit = result.exitCode ?? result.signal;
    const stderr = result.stderr.trim().split("\n").slice(-2).join(" ").slice(0, 300);
    return {
      passed: false,
      failures: [
        {
          condition: "report_unparseable",
          reason: `${error.message} (exit ${exit}${stderr ? `: ${stderr}` : ""})`,
        },
      ],
      host: null,
    };
  }
}

/** The check as the job flow calls it: on a fresh session to the target, closed afterwards. */
export type PreflightCheck = (
  target: SshTarget,
  requirements: PreflightRequirements,
  options?: RunPreflightOptions,
) => Promise<PreflightOutcome>;

/** A `PreflightCheck` over sessions from `connect` (which brings its key, retries and timeouts). */
export function preflightOverSsh(
  connect: (target: SshTarget, options?: { signal?: AbortSignal }) => Promise<SshSession>,
): PreflightCheck {
  return async (target, requirements, options = {}) => {
    const session = await connect(target, options.signal ? { signal: options.signal } : {});
    try {
      return await runPreflight(session, requirements, options);
    } finally {
      await session.close().catch(() => {});
    }
  };
}
