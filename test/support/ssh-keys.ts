/**
 * SSH key pairs for tests. `ssh2.utils.generateKeyPairSync("ed25519")` drops a leading zero byte
 * of the public key about once in 270 keys, which yields a key that neither ssh2 nor OpenSSH can
 * parse: logins are then refused and a test fails for no reason of its own. The simulator's
 * host-key encoder writes the key correctly, so tests take their pairs from here.
 */
import { publicKeyFromPrivate } from "../../packages/core/src/config/ssh-public-key";
import { generateHostKey } from "../../packages/vast-sim/src/ssh";

export interface TestKeyPair {
  /** OpenSSH private key (unencrypted). */
  private: string;
  /** `ssh-ed25519 AAAA... comment` */
  public: string;
}

export function generateTestKeyPair(comment = "test"): TestKeyPair {
  const privateKey = generateHostKey();
  return { private: privateKey, public: `${publicKeyFromPrivate(privateKey)} ${comment}` };
}
