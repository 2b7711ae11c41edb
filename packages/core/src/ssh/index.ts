export { SshChannelError, SshConnectError, SshHostKeyMismatchError } from "./errors";
export { sshFingerprint } from "./fingerprint";
export { probeSsh } from "./probe";
export { ShellQuoteError, type ShellValue, shellCommand, shellQuote } from "./quote";
export {
  backoffDelay,
  defaultSshRetry,
  isRetryableConnectError,
  type SshRetryPolicy,
  SshRetryPolicySchema,
} from "./retry";
export {
  type ConnectSshOptions,
  connectSsh,
  type ExecOptions,
  type ExecResult,
  type ExecStream,
  type SshSession,
  type SshTarget,
} from "./session";
