/**
 * The weaker confinements, used when the machine lacks bubblewrap or nsenter: bubblewrap per command, and
 * a plain shell in the instance folder (logged as a warning).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startTestInstance, type TestInstance } from "./support";

let t: TestInstance | undefined;

afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

describe("confinement fallbacks", () => {
  it("bubblewrap per command keeps the /workspace view", async () => {
    t = await startTestInstance({ confinement: "bwrap-per-command" });
    expect(t.server.confinement).toBe("bwrap-per-command");
    const result = await t.exec(
      "echo v > /workspace/v.txt; pwd; touch /etc/vast-sim-x 2>/dev/null || echo ro",
    );
    expect(result.stdout).toBe("/root\nro\n");
    expect(await readFile(join(t.rootDir, "v.txt"), "utf8")).toBe("v\n");
  });

  it("a plain shell runs in the instance folder, warns, and still has nvidia-smi and the stand-in", async () => {
    const warnings: string[] = [];
    t = await startTestInstance({
      confinement: "plain",
      timeScale: 1000,
      logger: { debug: () => {}, warn: (msg) => warnings.push(msg) },
    });
    expect(t.server.confinement).toBe("plain");
    expect(warnings.some((w) => w.includes("unconfined"))).toBe(true);
    const result = await t.exec('pwd; echo "$HOME"; nvidia-smi -L | head -1');
    expect(result.stdout.split("\n")).toEqual([
      t.rootDir,
      t.rootDir,
      "GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-5eed0000-5151-4a2c-9d1e-0000000a11ce)",
      "",
    ]);
    const run = await t.exec(
      "printf 'config:\\n  name: plain\\n  process:\\n    - training_folder: out\\n      train:\\n        steps: 10\\n' > c.yml" +
        " && cd ai-toolkit && python run.py ../c.yml",
    );
    expect(run.code).toBe(0);
    expect(
      (await readFile(join(t.rootDir, "ai-toolkit", "out", "plain", "plain.safetensors"))).length,
    ).toBeGreaterThan(0);
  });
});
