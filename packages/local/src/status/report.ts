/** The finished job, printed: outcome, cost breakdown per attempt, artifact, and the timeline. */
import type { JobView } from "@vast-rental/core";
import { bytes, duration, usd } from "./format";

export function finalReport(view: JobView): string[] {
  const lines: string[] = [];
  const took = view.endedAt ? duration(view.endedAt - view.createdAt) : "?";
  lines.push(`job ${view.jobId} ${view.state} in ${took}`);
  // A success's reason repeats what follows; a failure's is the news.
  if (view.state !== "succeeded" && view.reason) lines.push(`  why       ${view.reason}`);
  if (view.artifact) {
    lines.push(
      `  LoRA      s3://${view.artifact.bucket}/${view.artifact.key} (${bytes(view.artifact.bytes)}, sha256 ${view.artifact.sha256.slice(0, 12)}…)`,
    );
  }
  const { breakdown } = view.cost;
  lines.push(`  cost      ${usd(view.cost.finalUsd ?? view.cost.totalUsd)}`);
  lines.push(`    GPU       ${usd(breakdown.gpuUsd)}`);
  lines.push(`    storage   ${usd(breakdown.storageUsd)}`);
  lines.push(`    bandwidth ${usd(breakdown.bandwidthUsd)}`);
  for (const a of view.attempts) {
    lines.push(
      `  attempt ${a.attempt}  ${a.outcome}  ${a.gpuName ?? "?"} at ${a.hourlyUsd === null ? "?" : usd(a.hourlyUsd)}/h  instance ${a.instanceId ?? "none"}  ${a.costUsd === null ? "" : usd(a.costUsd)}`,
    );
  }
  lines.push("  timeline");
  for (const entry of view.timeline) {
    const at = `+${duration(entry.at - view.createdAt)}`.padStart(8);
    const what = entry.kind === "transition" ? `→ ${entry.to}` : entry.kind;
    lines.push(`    ${at}  ${what.padEnd(14)} ${entry.reason}`);
  }
  return lines;
}
