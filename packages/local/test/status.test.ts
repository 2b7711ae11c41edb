/**
 * The live status display and the final report `npm start` prints, from job views the API answers
 * (checked against the API's own schema): in every state the block shows the state, the instance,
 * the upload with its rate, training progress and dollars; a pipe gets one plain line per change and
 * no terminal codes, a terminal gets the block redrawn in place.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { JobRequestSchema, type JobView, JobViewSchema } from "@vast-rental/core";
import { afterEach, describe, expect, it } from "vitest";
import { sampleJobRequest } from "../src/sample/job";
import { followJob } from "../src/status/follow";
import { bar, bytes, duration, rate, usd } from "../src/status/format";
import { statusBlock, statusKey, statusLine } from "../src/status/render";
import { finalReport } from "../src/status/report";

const T0 = Date.UTC(2026, 10, 29, 10, 0, 0);
const INSTANCE: NonNullable<JobView["instance"]> = {
  instanceId: 31001000,
  attempt: 1,
  gpuName: "RTX 4090",
  hourlyUsd: 0.3687,
  sshHost: "127.0.0.1",
  sshPort: 40022,
  rentedAt: T0 + 1_000,
  runningSince: T0 + 6_000,
};
const cost = (totalUsd: number, finalUsd: number | null = null) => ({
  budgetUsd: 5,
  spentUsd: finalUsd ?? 0,
  openAttemptUsd: finalUsd === null ? totalUsd : 0,
  totalUsd,
  breakdown: { gpuUsd: totalUsd * 0.9, storageUsd: totalUsd * 0.1, bandwidthUsd: 0 },
  ceilingUsd: totalUsd * 1.5,
  finalUsd,
});
const UPLOADING = {
  attempt: 1,
  bytes: 12_000,
  reusedBytes: 0,
  totalBytes: 286_776,
  bytesPerSecond: 51_200,
  done: false,
  at: T0 + 6_500,
};
const UPLOADED = { ...UPLOADING, bytes: 286_776, bytesPerSecond: null, done: true, at: T0 + 7_000 };
const progress = (step: number) => ({
  attempt: 1,
  step,
  totalSteps: 2000,
  fraction: step / 2000,
  at: T0 + 8_000,
});

/** A job view as `GET /v1/jobs/{id}` answers it, in `state`; validated against the API's schema. */
function view(state: JobView["state"], overrides: Partial<JobView> = {}): JobView {
  const ended = ["succeeded", "failed", "cancelled"].includes(state);
  return JobViewSchema.parse({
    jobId: "job_status",
    state,
    reason: `now ${state}`,
    createdAt: T0,
    updatedAt: T0 + 1_000,
    deadlineAt: T0 + 3_600_000,
    endedAt: ended ? T0 + 65_000 : null,
    attempt: state === "queued" ? 0 : 1,
    request: JobRequestSchema.parse(sampleJobRequest()),
    dataset: { files: 48, bytes: 286_776, archiveBytes: null, checkedAt: T0 },
    instance: null,
    cost: cost(0),
    upload: null,
    progress: null,
    artifact: null,
    attempts: [],
    timeline: [],
    ...overrides,
  });
}

/** Each state as the sample job passes through it (a failed and a cancelled ending too). */
const JOURNEY: JobView[] = [
  view("queued"),
  view("provisioning"),
  view("booting", { instance: { ...INSTANCE, runningSince: null }, cost: cost(0.0001) }),
  view("pushing", { instance: INSTANCE, upload: UPLOADING, cost: cost(0.0004) }),
  view("training", { instance: INSTANCE, upload: UPLOADED, progress: progress(1200), cost: cost(0.0007) }),
  view("collecting", { instance: INSTANCE, upload: UPLOADED, progress: progress(2000), cost: cost(0.0008) }),
  view("succeeded", {
    upload: UPLOADED,
    progress: progress(2000),
    cost: cost(0.0009, 0.0009),
    artifact: {
      bucket: "artifacts",
      key: "artifacts/job_status/lora.safetensors",
      bytes: 4185,
      sha256: "8de31fa528004a969efc",
    },
  }),
];
const FAILED = view("failed", { reason: "budget reached: $5.00 spent of $5.00", cost: cost(5, 5) });
const CANCELLED = view("cancelled", { reason: "cancelled: changed my mind", cost: cost(0.0003, 0.0003) });

describe("formatting", () => {
  it("writes dollars to the ten-thousandth below a dollar (billing is per second), to the cent above", () => {
    expect(usd(0)).toBe("$0.0000");
    expect(usd(0.00271)).toBe("$0.0027");
    expect(usd(0.3687)).toBe("$0.3687");
    expect(usd(1)).toBe("$1.00");
    expect(usd(12.4)).toBe("$12.40");
  });

  it("writes sizes, rates and durations", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1024)).toBe("1.0 KiB");
    expect(bytes(286_776)).toBe("280.1 KiB");
    expect(bytes(5 * 1024 ** 2)).toBe("5.0 MiB");
    expect(bytes(3 * 1024 ** 3)).toBe("3.00 GiB");
    expect(rate(51_200)).toBe("50.0 KiB/s");
    expect(rate(99.6)).toBe("100 B/s");
    expect(duration(0)).toBe("0:00");
    expect(duration(65_000)).toBe("1:05");
    expect(duration(720_000)).toBe("12:00");
    expect(duration(3_723_000)).toBe("1:02:03");
    expect(duration(-5_000)).toBe("0:00");
  });

  it("draws a progress bar, clamped to empty and full", () => {
    expect(bar(0.5, 4)).toBe("██░░");
    expect(bar(0, 3)).toBe("░░░");
    expect(bar(1.7, 3)).toBe("███");
    expect(bar(-1, 3)).toBe("░░░");
    expect(bar(0.6)).toHaveLength(24);
  });
});

describe("the status block a terminal shows", () => {
  it("shows a job being trained: state, instance, upload, training progress and dollars", () => {
    expect(statusBlock(JOURNEY[4]!, 8_000)).toEqual([
      "job job_status  TRAINING  attempt 1  0:08",
      "  instance  31001000  RTX 4090 at $0.3687/h  running",
      "  upload    280.1 KiB of 280.1 KiB  done",
      `  training  ${"█".repeat(14)}${"░".repeat(10)} 1200/2000 steps`,
      "  cost      $0.0007 of $5.00 budget  (GPU $0.0006, storage $0.0001, bandwidth $0.0000)",
      "  last      now training",
    ]);
  });

  it("shows an upload in progress with its rate", () => {
    expect(statusBlock(JOURNEY[3]!, 6_000)).toContain("  upload    11.7 KiB of 280.1 KiB at 50.0 KiB/s");
  });

  it("shows the state, the instance (or none), the upload, training and dollars in every state", () => {
    for (const v of [...JOURNEY, FAILED, CANCELLED]) {
      const block = statusBlock(v, 1_000).join("\n");
      expect(block, v.state).toContain(`  ${v.state.toUpperCase()}  `);
      expect(block, v.state).toContain(
        v.instance ? `  instance  ${v.instance.instanceId}  RTX 4090 at $0.3687/h` : "  instance  none",
      );
      expect(block, v.state).toContain(v.upload ? "  upload    " : "  upload    not started");
      expect(block, v.state).toContain(
        v.progress ? `${v.progress.step}/${v.progress.totalSteps} steps` : "  training  not started",
      );
      expect(block, v.state).toContain(`  cost      ${usd(v.cost.totalUsd)} of $5.00 budget`);
      expect(block, v.state).not.toContain("\x1b");
    }
    expect(statusBlock(JOURNEY[2]!, 0)[1]).toMatch(/ booting$/);
    expect(statusBlock(FAILED, 0)).toContain("  last      budget reached: $5.00 spent of $5.00");
  });
});

describe("the status line a pipe gets", () => {
  it("names the state, instance, upload with its rate, training tenths and dollars", () => {
    expect(JOURNEY.map((v, i) => statusLine(v, i * 1_000))).toEqual([
      "0:00  queued  cost $0.0000",
      "0:01  provisioning  cost $0.0000",
      "0:02  booting  instance 31001000  cost $0.0001",
      "0:03  pushing  instance 31001000  upload 11.7 KiB of 280.1 KiB at 50.0 KiB/s  cost $0.0004",
      "0:04  training  instance 31001000  training 60 %  cost $0.0007",
      "0:05  collecting  instance 31001000  cost $0.0008",
      "0:06  succeeded  cost $0.0009",
    ]);
  });

  it("tells a change worth a line from time and money passing", () => {
    const later = view("training", { instance: INSTANCE, progress: progress(1300), cost: cost(0.002) });
    // Same state, instance and tenth of training: the same key, so no new line.
    expect(statusKey(later)).toBe(statusKey(JOURNEY[4]!));
    const nextTenth = view("training", { instance: INSTANCE, progress: progress(1400), cost: cost(0.002) });
    expect(statusKey(nextTenth)).not.toBe(statusKey(JOURNEY[4]!));
  });
});

/** Output as followJob writes it: a pipe, or a terminal when `tty`. */
class Captured extends Writable {
  text = "";
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** An API answering GET /v1/jobs/job_status with `views` in turn (the last one again once they run out). */
async function apiServing(views: JobView[]): Promise<{ url: string; requests: () => number }> {
  let served = 0;
  server = createServer((req, res) => {
    if (req.headers.authorization !== "Bearer the-key" || req.url !== "/v1/jobs/job_status") {
      res.writeHead(401).end("no");
      return;
    }
    const body = views[Math.min(served, views.length - 1)];
    served++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => served };
}

describe("following a job", () => {
  const withoutClock = (line: string) => line.replace(/^\d+:\d{2} {2}/, "");

  it("to a pipe: one plain line per change, no terminal codes, until the job ends", async () => {
    const [queued, provisioning, booting, pushing, training, collecting, succeeded] = JOURNEY;
    const sequence = [
      queued!,
      queued!,
      provisioning!,
      booting!,
      { ...booting!, cost: cost(0.0002) },
      pushing!,
      view("training", { instance: INSTANCE, progress: progress(1000), cost: cost(0.0006) }),
      view("training", { instance: INSTANCE, progress: progress(1100), cost: cost(0.0006) }),
      training!,
      collecting!,
      succeeded!,
    ];
    const api = await apiServing(sequence);
    const out = new Captured(false);
    const final = await followJob({
      apiUrl: api.url,
      apiKey: "the-key",
      jobId: "job_status",
      out,
      intervalMs: 1,
    });
    expect(final.state).toBe("succeeded");
    expect(api.requests()).toBe(sequence.length);
    expect(out.text).not.toContain("\x1b");
    const lines = out.text.trimEnd().split("\n");
    expect(lines.map(withoutClock)).toEqual([
      "queued  cost $0.0000",
      "provisioning  cost $0.0000",
      "booting  instance 31001000  cost $0.0001",
      "pushing  instance 31001000  upload 11.7 KiB of 280.1 KiB at 50.0 KiB/s  cost $0.0004",
      "training  instance 31001000  training 50 %  cost $0.0006",
      "training  instance 31001000  training 60 %  cost $0.0007",
      "collecting  instance 31001000  cost $0.0008",
      "succeeded  cost $0.0009",
    ]);
    for (const line of lines) expect(line).toMatch(/^\d+:\d{2} {2}/);
  });

  it("on a terminal: the block, redrawn in place", async () => {
    const api = await apiServing([JOURNEY[4]!, JOURNEY[6]!]);
    const out = new Captured(true);
    await followJob({ apiUrl: api.url, apiKey: "the-key", jobId: "job_status", out, intervalMs: 1 });
    const first = statusBlock(JOURNEY[4]!, 0);
    // Drawn once, then the cursor goes back up over it and clears before the final block.
    expect(out.text.indexOf(`\x1b[${first.length}A\x1b[J`)).toBeGreaterThan(0);
    const [before, after] = out.text.split(`\x1b[${first.length}A\x1b[J`) as [string, string];
    expect(before.split("\n").slice(1, -1)).toEqual(first.slice(1));
    expect(after).toContain("SUCCEEDED");
    expect(after.trimEnd().split("\n")).toHaveLength(statusBlock(JOURNEY[6]!, 0).length);
  });

  it("stops with the API's answer when it refuses", async () => {
    const api = await apiServing([JOURNEY[0]!]);
    const out = new Captured(false);
    await expect(
      followJob({ apiUrl: api.url, apiKey: "wrong", jobId: "job_status", out, intervalMs: 1 }),
    ).rejects.toThrow("GET /v1/jobs/job_status answered 401: no");
  });
});

describe("the final report", () => {
  it("prints the outcome, the artifact, the cost breakdown, each attempt and the timeline", () => {
    const done = view("succeeded", {
      ...JOURNEY[6]!,
      attempts: [
        {
          attempt: 1,
          outcome: "succeeded",
          offerId: 8628454,
          machineId: 11946,
          gpuName: "RTX 4090",
          hourlyUsd: 0.3687,
          label: "vast-rental:job_status:1",
          instanceId: 31001000,
          startedAt: T0 + 500,
          rentedAt: T0 + 1_000,
          runningSince: T0 + 6_000,
          endedAt: T0 + 64_000,
          destroyedAt: T0 + 64_500,
          sshHost: "127.0.0.1",
          sshPort: 40022,
          failureReason: null,
          cost: { gpuUsd: 0.00081, storageUsd: 0.00009, bandwidthUsd: 0 },
          costUsd: 0.0009,
        },
      ],
      timeline: [
        {
          at: T0,
          kind: "transition",
          event: null,
          from: null,
          to: "queued",
          reason: "submitted",
          details: {},
        },
        {
          at: T0 + 12_000,
          kind: "transition",
          event: null,
          from: "pushing",
          to: "training",
          reason: "training launched",
          details: {},
        },
        {
          at: T0 + 13_000,
          kind: "note",
          event: null,
          from: null,
          to: null,
          reason: "training step 400/2000",
          details: {},
        },
      ],
    });
    expect(finalReport(done)).toEqual([
      "job job_status succeeded in 1:05",
      "  LoRA      s3://artifacts/artifacts/job_status/lora.safetensors (4.1 KiB, sha256 8de31fa52800…)",
      "  cost      $0.0009",
      "    GPU       $0.0008",
      "    storage   $0.0001",
      "    bandwidth $0.0000",
      "  attempt 1  succeeded  RTX 4090 at $0.3687/h  instance 31001000  $0.0009",
      "  timeline",
      "       +0:00  → queued       submitted",
      "       +0:12  → training     training launched",
      "       +0:13  note           training step 400/2000",
    ]);
  });

  it("says why a job did not succeed", () => {
    expect(finalReport(FAILED).slice(0, 2)).toEqual([
      "job job_status failed in 1:05",
      "  why       budget reached: $5.00 spent of $5.00",
    ]);
  });
});
