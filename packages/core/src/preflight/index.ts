/**
 * Public face of the pre-flight host check: after a rented instance answers SSH and before
 * anything is pushed to it, one SSH round trip tells whether the host can run the job (GPUs,
 * VRAM, nothing else on them, driver vs the image's CUDA, free disk, PyTorch with CUDA,
 * ai-toolkit present). The job flow decides what a failure means (readiness: destroy, remember
 * the machine, try the next offer).
 */
export {
  BUSY_MEMORY_MIB,
  compareVersions,
  describePreflightFailures,
  evaluatePreflight,
  gpuModelKey,
  MIN_DRIVER_FOR_CUDA,
  minimumDriverFor,
  type PreflightCondition,
  PreflightConditionSchema,
  type PreflightFailure,
  PreflightFailureSchema,
  type PreflightHost,
  PreflightHostSchema,
  type PreflightOutcome,
  PreflightOutcomeSchema,
  sameGpuModel,
} from "./evaluate";
export {
  PREFLIGHT_SCRIPT,
  type PreflightGpu,
  type PreflightReport,
  PreflightReportError,
  PreflightReportSchema,
  parsePreflightReport,
} from "./report";
export { CudaVersionSchema, type PreflightRequirements, PreflightRequirementsSchema } from "./requirements";
export {
  DEFAULT_PREFLIGHT_STEP_SECONDS,
  type PreflightCheck,
  preflightCommand,
  preflightOverSsh,
  type RunPreflightOptions,
  runPreflight,
} from "./run";
