/**
 * The per-instance SSH server of the Vast simulator: what the simulator's lifecycle starts for each
 * instance, and the helpers to prepare the instance folder and steer its training stand-in.
 */
export type { OfferedKey } from "./authorized-keys";
export { generateHostKey, hostKeyFingerprint } from "./host-key";
export {
  InstanceFolderError,
  type PrepareInstanceFolderOptions,
  prepareInstanceFolder,
  releaseTraining,
  setTrainingBehaviour,
  trainingBehaviourPath,
} from "./instance-folder";
export { BWRAP_MISSING_HINT, SandboxUnavailableError } from "./sandbox";
export {
  checkConfinement,
  type InstanceSshServerExtraOptions,
  SFTP_SERVER_PATH,
  startInstanceSshServer,
} from "./server";
export { SHIM_MOUNT } from "./shims";
export type {
  ConfinementMode,
  InstanceSshServer,
  InstanceSshServerOptions,
  SimFaultsForSsh,
  SimGpu,
  SimHostEnvironment,
  SimTrainingBehaviour,
  SshServerLogger,
} from "./types";
export { SimTrainingBehaviourSchema } from "./types";
