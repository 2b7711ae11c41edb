import { describe, expect, it } from "vitest";
import { parseProgress, parseTrainingReport } from "../../src/training";

const report = (head: string[], log = "") => `${head.join("\n")}\n---log---\n${log}`;

describe("parseTrainingReport", () => {
  it("running: live pid, heartbeat age, last tqdm progress", () => {
    const log =
      "loading\nmy_lora:  10%|#   | 200/2000 [01:00<09:00]\nmy_lora:  12%|#   | 240/2000 [01:12<08:48]\n";
    const check = parseTrainingReport(
      report(["now=1000", "locked=1", "pid=42", "alive=1", "heartbeat=990"], log),
    );
    expect(check).toMatchObject({
      status: "running",
      pid: 42,
      exitCode: null,
      heartbeatAgeSeconds: 10,
      progress: { step: 240, totalSteps: 2000 },
    });
    expect(check.logTail.split("\n")).toHaveLength(3);
  });

  it("exit code decides success or failure, even if the pid is gone", () => {
    expect(parseTrainingReport(report(["now=1", "pid=42", "alive=0", "exit_code=0"])).status).toBe(
      "succeeded",
    );
    const failed = parseTrainingReport(report(["now=1", "pid=42", "alive=0", "exit_code=137"], "Killed\n"));
    expect(failed).toMatchObject({ status: "failed", exitCode: 137, logTail: "Killed" });
  });

  it("a taken launch lock without a pid still counts as launched (push must not run again)", () => {
    const check = parseTrainingReport(report(["now=1", "locked=1"]));
    expect(check).toMatchObject({ status: "not_started", launched: true });
  });

  it("a dead pid without an exit code is a failure with a reason", () => {
    const check = parseTrainingReport(report(["now=1", "pid=42", "alive=0"]));
    expect(check.status).toBe("failed");
    expect(check.reason).toBeDefined();
  });

  it("nothing there is not_started; garbage fields are ignored", () => {
    expect(parseTrainingReport(report(["now=1"])).status).toBe("not_started");
    expect(parseTrainingReport(report(["now=x", "pid=4 2", "exit_code="])).status).toBe("not_started");
    expect(parseTrainingReport("").status).toBe("not_started");
  });

  it("keeps only the last lines of the log", () => {
    const log = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const check = parseTrainingReport(report(["now=1", "pid=1", "alive=1"], log), 5);
    expect(check.logTail).toBe("line 95\nline 96\nline 97\nline 98\nline 99");
  });
});

describe("parseProgress", () => {
  it("ignores impossible ratios and text without progress", () => {
    expect(parseProgress("no progress here")).toBeNull();
    expect(parseProgress("| 5/0 [")).toBeNull();
    expect(parseProgress("| 9/4 [")).toBeNull();
    expect(parseProgress("| 3/4 [ then | 4/4 [")).toEqual({ step: 4, totalSteps: 4 });
  });

  it("reads ai-toolkit's tqdm lines, carriage-return redraws and plain `step N/M` lines; the last wins", () => {
    const tqdm = (step: number) =>
      `my_lora:  15%|█▌        | ${step}/2000 [01:02<05:40,  4.98it/s, lr: 1.0e-04 loss: 3.9e-01]`;
    expect(parseProgress(`${tqdm(300)}\n`)).toEqual({ step: 300, totalSteps: 2000 });
    expect(parseProgress(`${tqdm(100)}\r${tqdm(200)}\r${tqdm(300)}`)).toEqual({
      step: 300,
      totalSteps: 2000,
    });
    expect(parseProgress("step 200/2000\nstep 400/2000\n")).toEqual({ step: 400, totalSteps: 2000 });
    expect(parseProgress(`step 900/2000\n${tqdm(1000)}\r`)).toEqual({ step: 1000, totalSteps: 2000 });
    expect(parseProgress(`${tqdm(1000)}\nStep: 1200 / 2000\n`)).toEqual({ step: 1200, totalSteps: 2000 });
    // Dates and paths are not progress.
    expect(parseProgress("saved to out/2024/11/28 and step 3/4/5")).toBeNull();
  });
});
