export { errorText } from "./error-text";
export {
  createRecordingLogger,
  type LogAttributes,
  type Logger,
  type LogRecord,
  silentLogger,
} from "./logger";
export { REDACTED, redactObject, redactSecretFragments, redactSecrets } from "./redact";
