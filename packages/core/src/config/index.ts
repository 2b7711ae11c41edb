export { apiDependencies } from "./api-dependencies";
export {
  commandDeadLetters,
  createJobDependencies,
  type JobDependencies,
  type JobDependencyOptions,
  withJobDependencies,
} from "./job-dependencies";
export {
  loadOrchestrationConfig,
  type OrchestrationConfig,
  OrchestrationConfigSchema,
  settingsFromConfig,
} from "./orchestration-config";
export { createServiceLogger, redactingLogger } from "./redacting-logger";
export {
  ConfigError,
  loadRuntimeConfig,
  parseEnv,
  type RuntimeConfig,
  RuntimeConfigSchema,
} from "./runtime-config";
export {
  assertSigningSecretsSeparate,
  type LoadSecretsOptions,
  loadSecrets,
  type Secrets,
  SecretsError,
  SecretsSchema,
  SharedSigningSecretError,
  secretValues,
} from "./secrets";
export { publicKeyFromPrivate } from "./ssh-public-key";
