/**
 * The OpenSSH public key line (`ssh-ed25519 AAAA...`) for our private key: Vast injects it into
 * every instance, so only the private key needs to be stored as a secret.
 */
import ssh2 from "ssh2";

export function publicKeyFromPrivate(privateKey: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    // Never include the key material or the parser's message (it may quote it).
    throw new Error("the SSH private key cannot be parsed (an unencrypted OpenSSH or PEM key is expected)");
  }
  return `${key.type} ${key.getPublicSSH().toString("base64")}`;
}
