/**
 * Typed SSH failures. Messages name the host and what failed, never key material: callers log
 * and store these, and a private key must not reach a log line or a job timeline.
 */

/** The server presented a different host key than the one pinned at first contact. Never retried. */
export class SshHostKeyMismatchError extends Error {
  override readonly name = "SshHostKeyMismatchError";
  constructor(
    readonly host: string,
    readonly port: number,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `SSH host key for ${host}:${port} changed: expected ${expected}, got ${actual}; refusing to connect`,
    );
  }
}

/** Connecting failed after every retry (or with a non-retryable error such as bad credentials). */
export class SshConnectError extends Error {
  override readonly name = "SshConnectError";
  constructor(
    message: string,
    readonly attempts: number,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A remote command could not run or its channel broke (not a non-zero exit: that is a result). */
export class SshChannelError extends Error {
  override readonly name = "SshChannelError";
}
