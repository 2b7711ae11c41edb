/** A minimal ssh2 client for tests: connect to a simulated instance, run a command, push bytes. */
import ssh2 from "ssh2";
import { generateTestKeyPair } from "../../../test/support/ssh-keys";

export function newKeyPair(): { privateKey: string; publicKey: string } {
  const pair = generateTestKeyPair("test@vast-sim");
  return { privateKey: pair.private, publicKey: pair.public.trim() };
}

export function connect(port: number, privateKey: string): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on("ready", () => resolve(c))
      .on("error", reject)
      .on("close", () => reject(new Error("closed before ready")));
    c.connect({ host: "127.0.0.1", port, username: "root", privateKey, readyTimeout: 5000 });
  });
}

export interface ExecResult {
  code: number | null;
  stdout: string;
}

export function exec(c: ssh2.Client, command: string, stdin?: Buffer): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = "";
      let code: number | null = null;
      stream.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      stream.stderr.on("data", () => {});
      stream.on("exit", (c2: number | null) => {
        code = c2;
      });
      stream.on("close", () => resolve({ code, stdout }));
      if (stdin) stream.end(stdin);
      else stream.end();
    });
  });
}

/** Connects, runs one command, disconnects. */
export async function run(
  port: number,
  privateKey: string,
  command: string,
  stdin?: Buffer,
): Promise<ExecResult> {
  const c = await connect(port, privateKey);
  try {
    return await exec(c, command, stdin);
  } finally {
    c.end();
  }
}

/** Whether a login with `privateKey` fails (connection refused, dropped or key not accepted). */
export function loginRefused(port: number, privateKey: string): Promise<boolean> {
  return connect(port, privateKey).then(
    (c) => {
      c.end();
      return false;
    },
    () => true,
  );
}
