/**
 * The readiness probe: an instance is ready when it accepts our key and runs a command. Returns
 * the host-key fingerprint so the caller pins it on the attempt (trust on first use).
 */
import { SshChannelError } from "./errors";
import { type ConnectSshOptions, connectSsh } from "./session";

export async function probeSsh(target: ConnectSshOptions): Promise<{ hostKeyFingerprint: string }> {
  const session = await connectSsh(target);
  try {
    const result = await session.exec("true");
    if (result.exitCode !== 0) {
      throw new SshChannelError(`SSH probe command exited with ${result.exitCode ?? result.signal}`);
    }
    return { hostKeyFingerprint: session.hostKeyFingerprint };
  } finally {
    await session.close();
  }
}
