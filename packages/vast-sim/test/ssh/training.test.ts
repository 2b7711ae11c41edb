/**
 * The training stand-in behind `cd /workspace/ai-toolkit && python run.py CONFIG`: reads the ai-toolkit
 * config, prints progress over a time-scaled duration, writes the .safetensors or fails on demand.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../../../../test/support/poll";
import { prepareInstanceFolder, setTrainingBehaviour } from "../../src/ssh";
import { RUN_PY } from "../../src/ssh/shims";
import { startTestInstance, type TestInstance } from "./support";

let t: TestInstance;

beforeAll(async () => {
  // 600 simulated seconds per real second: a 60 s training takes 0.1 s.
  t = await startTestInstance({ timeScale: 600, aiToolkitMounts: ["/app/ai-toolkit"] });
});

afterAll(async () => {
  await t?.cleanup();
});

function config(name: string, trainingFolder: string, steps: number): string {
  return [
    "---",
    "job: extension",
    "config:",
    `  name: "${name}"`,
    "  process:",
    "    - type: 'sd_trainer'",
    `      training_folder: "${trainingFolder}"  # where outputs go`,
    "      device: cuda:0",
    "      network:",
    "        type: lora",
    "        linear: 16",
    "      train:",
    "        batch_size: 1",
    `        steps: ${steps}`,
    "        lr: 1e-4",
    "      model:",
    '        name_or_path: "black-forest-labs/FLUX.1-dev"',
    "",
  ].join("\n");
}

/** Reads a safetensors header: 8-byte little-endian length, then that much JSON. */
function safetensorsHeader(bytes: Buffer): Record<string, unknown> {
  const length = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + length).toString("utf8"));
}

describe("training stand-in", () => {
  it("prints step progress over durationSeconds / timeScale and writes the safetensors", async () => {
    await setTrainingBehaviour(t.rootDir, { durationSeconds: 120, fail: false });
    await writeFile(join(t.rootDir, "job1.yml"), config("lora_one", "/workspace/output", 2000));
    const started = Date.now();
    const result = await t.exec("cd /workspace/ai-toolkit && python run.py /workspace/job1.yml");
    const elapsed = Date.now() - started;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    // tqdm lines as ai-toolkit prints them, one per line.
    const steps = result.stdout.split("\n").filter((line) => line.startsWith("lora_one: "));
    expect(steps).toHaveLength(10);
    expect(steps[0]).toMatch(
      /^lora_one: {2}10%\|█ {9}\| 200\/2000 \[00:12<01:48, +\d+\.\d+it\/s, lr: .* loss: .*\]$/,
    );
    expect(steps.at(-1)).toMatch(/^lora_one: 100%\|█{10}\| 2000\/2000 \[02:00<00:00, /);
    expect(elapsed).toBeGreaterThanOrEqual(200); // 120 s / 600

    const output = await readFile(join(t.rootDir, "output", "lora_one", "lora_one.safetensors"));
    expect(output.length).toBeGreaterThan(1000);
    expect(safetensorsHeader(output)).toMatchObject({ __metadata__: { name: "lora_one", steps: "2000" } });
  });

  it("prints progressTicks lines when set, their steps evenly spread", async () => {
    await setTrainingBehaviour(t.rootDir, { durationSeconds: 6, fail: false, progressTicks: 25 });
    await writeFile(join(t.rootDir, "job-ticks.yml"), config("lora_ticks", "/workspace/out-ticks", 2000));
    const result = await t.exec("cd /workspace/ai-toolkit && python run.py /workspace/job-ticks.yml");
    expect(result.code).toBe(0);
    const steps = result.stdout
      .split("\n")
      .filter((line) => line.startsWith("lora_ticks: "))
      .map((line) => Number(/\| (\d+)\/2000 \[/.exec(line)?.[1]));
    expect(steps).toEqual(Array.from({ length: 25 }, (_, i) => (i + 1) * 80));
  });

  it("runs from the image's /app/ai-toolkit, as ai-toolkit's image installs it, which the instance cannot change", async () => {
    await setTrainingBehaviour(t.rootDir, { durationSeconds: 6, fail: false });
    await writeFile(join(t.rootDir, "job-app.yml"), config("lora_app", "/workspace/out-app", 100));
    const result = await t.exec("cd /app/ai-toolkit && python run.py /workspace/job-app.yml");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("lora_app: 100%");
    await stat(join(t.rootDir, "out-app", "lora_app", "lora_app.safetensors"));
    const write = await t.exec(
      "echo x > /app/ai-toolkit/run.py || echo refused; touch /app/ai-toolkit/new || echo refused",
    );
    expect(write.stdout).toBe("refused\nrefused\n");
    expect((await t.exec("grep -c 'vast-sim training stand-in' /app/ai-toolkit/run.py")).stdout).toBe("1\n");
  });

  it("resolves a relative training_folder from the ai-toolkit folder, with python3 -u too", async () => {
    await setTrainingBehaviour(t.rootDir, { durationSeconds: 6, fail: false });
    await writeFile(join(t.rootDir, "job2.yml"), config("lora_two", "output", 500));
    const result = await t.exec("cd /workspace/ai-toolkit && python3 -u run.py /root/job2.yml");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("| 500/500 [");
    const output = await stat(join(t.rootDir, "ai-toolkit", "output", "lora_two", "lora_two.safetensors"));
    expect(output.size).toBeGreaterThan(0);
  });

  it("fails on demand with the configured exit code and message, writing no output", async () => {
    await setTrainingBehaviour(t.rootDir, {
      durationSeconds: 6,
      fail: true,
      exitCode: 3,
      failMessage: 'torch.OutOfMemoryError: CUDA out of memory ("simulated")',
    });
    await writeFile(join(t.rootDir, "job3.yml"), config("lora_three", "/workspace/output", 100));
    const result = await t.exec("cd /workspace/ai-toolkit && python run.py /workspace/job3.yml");
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('torch.OutOfMemoryError: CUDA out of memory ("simulated")');
    expect(result.stdout).toContain("| 50/100 [");
    expect(result.stdout).not.toContain("| 100/100 [");
    await expect(stat(join(t.rootDir, "output", "lora_three"))).rejects.toThrow();
  });

  it("fails with exit code 1 and a CUDA message by default", async () => {
    await setTrainingBehaviour(t.rootDir, { durationSeconds: 1, fail: true });
    await writeFile(join(t.rootDir, "job4.yml"), config("lora_four", "/workspace/output", 10));
    const result = await t.exec("cd /workspace/ai-toolkit && python run.py /workspace/job4.yml");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("CUDA out of memory");
  });

  it("runs detached with a log and an exit-code file, as the orchestrator starts it", async () => {
    await setTrainingBehaviour(t.rootDir, { durationSeconds: 60, fail: false });
    await writeFile(join(t.rootDir, "job5.yml"), config("lora_five", "/workspace/output", 300));
    const start = await t.exec(
      "cd /workspace/ai-toolkit && nohup bash -c 'python run.py /workspace/job5.yml > /workspace/train.log 2>&1; " +
        "echo $? > /workspace/train.exit' > /dev/null 2>&1 &",
    );
    expect(start.code).toBe(0);
    const exit = await pollUntil(() =>
      readFile(join(t.rootDir, "train.exit"), "utf8").catch(() => undefined),
    );
    expect(exit?.trim()).toBe("0");
    expect(await readFile(join(t.rootDir, "train.log"), "utf8")).toContain("| 300/300 [");
    expect(
      (await stat(join(t.rootDir, "output", "lora_five", "lora_five.safetensors"))).size,
    ).toBeGreaterThan(0);
  });

  it("reports a missing config like a failed run", async () => {
    const result = await t.exec("cd /workspace/ai-toolkit && python run.py /workspace/nope.yml");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("config file not found");
    // The real python running run.py hands over to the stand-in as well.
    const direct = await t.exec("cd /workspace/ai-toolkit && /usr/bin/python3 run.py /workspace/nope.yml");
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain("config file not found");
  });

  it("rejects invalid behaviours", async () => {
    await expect(setTrainingBehaviour(t.rootDir, { durationSeconds: -1, fail: false })).rejects.toThrow();
    await expect(
      setTrainingBehaviour(t.rootDir, { durationSeconds: 1, fail: true, exitCode: 0 }),
    ).rejects.toThrow();
    // A hold must come before the run's last line (it would never be released otherwise).
    await expect(
      setTrainingBehaviour(t.rootDir, { durationSeconds: 1, fail: false, holdAfterTicks: 10 }),
    ).rejects.toThrow(/holdAfterTicks/);
    await expect(
      setTrainingBehaviour(t.rootDir, {
        durationSeconds: 1,
        fail: false,
        progressTicks: 20,
        holdAfterTicks: 20,
      }),
    ).rejects.toThrow(/holdAfterTicks/);
    // Fewer than 20 lines is a valid hold (not run: the file's next runs would wait for a release).
    await expect(
      setTrainingBehaviour(t.rootDir, {
        durationSeconds: 1,
        fail: false,
        progressTicks: 20,
        holdAfterTicks: 19,
      }),
    ).resolves.toBeUndefined();
    await setTrainingBehaviour(t.rootDir, { durationSeconds: 1, fail: false });
  });

  it("prepares the instance folder idempotently, leaving an existing run.py alone", async () => {
    await prepareInstanceFolder(t.rootDir);
    expect(await readFile(join(t.rootDir, "ai-toolkit", "run.py"), "utf8")).toBe(RUN_PY);
    await writeFile(join(t.rootDir, "ai-toolkit", "run.py"), "print('real ai-toolkit')\n");
    await prepareInstanceFolder(t.rootDir);
    expect(await readFile(join(t.rootDir, "ai-toolkit", "run.py"), "utf8")).toBe(
      "print('real ai-toolkit')\n",
    );
    // Without the stand-in marker, python runs the real file.
    const result = await t.exec("cd /workspace/ai-toolkit && python run.py");
    expect(result.stdout).toBe("real ai-toolkit\n");
    await writeFile(join(t.rootDir, "ai-toolkit", "run.py"), RUN_PY);
  });
});
