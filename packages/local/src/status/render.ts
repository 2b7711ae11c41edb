/**
 * What the live status display shows of a job, from its API view: state, instance, upload,
 * training progress and dollars so far — a block redrawn in place on a terminal, one line per
 * change otherwise.
 */
import type { JobView } from "@vast-rental/core";
import { bar, bytes, duration, rate, usd } from "./format";

/** The block a terminal shows (redrawn in place). */
export function statusBlock(view: JobView, elapsedMs: number): string[] {
  const lines = [
    `job ${view.jobId}  ${view.state.toUpperCase()}  attempt ${view.attempt}  ${duration(elapsedMs)}`,
  ];
  const instance = view.instance;
  lines.push(
    instance
      ? `  instance  ${instance.instanceId}  ${instance.gpuName} at ${usd(instance.hourlyUsd)}/h${instance.runningSince ? "  running" : "  booting"}`
      : "  instance  none",
  );
  const upload = view.upload;
  if (upload) {
    const total = upload.totalBytes ? ` of ${bytes(upload.totalBytes)}` : "";
    const speed = upload.bytesPerSecond ? ` at ${rate(upload.bytesPerSecond)}` : "";
    lines.push(`  upload    ${bytes(upload.bytes)}${total}${speed}${upload.done ? "  done" : ""}`);
  } else {
    lines.push("  upload    not started");
  }
  const progress = view.progress;
  lines.push(
    progress
      ? `  training  ${bar(progress.fraction)} ${progress.step}/${progress.totalSteps} steps`
      : "  training  not started",
  );
  const { breakdown } = view.cost;
  lines.push(
    `  cost      ${usd(view.cost.totalUsd)} of ${usd(view.cost.budgetUsd)} budget  (GPU ${usd(breakdown.gpuUsd)}, storage ${usd(breakdown.storageUsd)}, bandwidth ${usd(breakdown.bandwidthUsd)})`,
  );
  if (view.reason) lines.push(`  last      ${view.reason}`);
  return lines;
}

/** One line for logs and pipes; printed only when it differs from the previous one. */
export function statusLine(view: JobView, elapsedMs: number): string {
  const parts = [duration(elapsedMs), view.state];
  if (view.instance) parts.push(`instance ${view.instance.instanceId}`);
  if (view.upload && view.state === "pushing") {
    const total = view.upload.totalBytes ? ` of ${bytes(view.upload.totalBytes)}` : "";
    const speed = view.upload.bytesPerSecond ? ` at ${rate(view.upload.bytesPerSecond)}` : "";
    parts.push(`upload ${bytes(view.upload.bytes)}${total}${speed}`);
  }
  if (view.progress && view.state === "training") {
    // Whole tenths, so a pipe gets a handful of lines rather than one per step.
    parts.push(`training ${Math.floor(view.progress.fraction * 10) * 10} %`);
  }
  parts.push(`cost ${usd(view.cost.totalUsd)}`);
  return parts.join("  ");
}

/** The line without its clock and cost, to tell a change worth printing from time passing. */
export function statusKey(view: JobView): string {
  return statusLine(view, 0).split("  ").slice(1, -1).join("  ");
}
