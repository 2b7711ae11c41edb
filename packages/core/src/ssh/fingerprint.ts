/** Host-key fingerprints in OpenSSH's `SHA256:<base64 without padding>` form, as `ssh-keygen -l` prints. */
import { createHash } from "node:crypto";

export function sshFingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(publicKeyBlob).digest("base64").replace(/=+$/, "")}`;
}
