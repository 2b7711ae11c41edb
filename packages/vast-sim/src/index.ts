/** Public face of @vast-rental/vast-sim: a faithful Vast.ai simulator for tests, demos and benchmarks. */
export type { AdminInstance, SimAdmin, TrainingBehaviourInput } from "./admin";
export type { Endpoint } from "./endpoints";
export type {
  FaultSpec,
  FaultSpecInput,
  InjectedFaultKind,
  RandomFaultProfile,
  RandomFaultProfileInput,
} from "./faults";
export { FaultSpecSchema, RandomFaultProfileSchema } from "./faults";
export {
  cudaVersionOfDriver,
  DEFAULT_AI_TOOLKIT_DIRS,
  DEFAULT_DRIVER_VERSION,
  type HostProfile,
  type HostProfileInput,
  HostProfileSchema,
} from "./host-profile";
export type { HistoryEntry } from "./instance";
export type { InstanceLedger, LedgerAmounts } from "./ledger";
export type { LifecycleDelays } from "./lifecycle";
export type { SimOffer } from "./marketplace";
export { VAST_MIN_INTERVAL_SECONDS } from "./rate-limits";
export type { RequestCounts } from "./request-counts";
export { describeConfinement, startVastSim, type VastSim, type VastSimOptions } from "./server";
/** A new ed25519 private key in OpenSSH's format (also what the local stack's orchestrator logs in with). */
export { generateHostKey } from "./ssh/host-key";
export { InstanceFolderError } from "./ssh/instance-folder";
export { SandboxUnavailableError } from "./ssh/sandbox";
export type { SimConfinement } from "./ssh-bridge";
export { signWebhook, type WebhookTarget } from "./webhooks";
