/**
 * Follows a job through the HTTP API until it ends, drawing its status: a block redrawn in place
 * on a terminal, a line per change when the output is a pipe or a file.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { JobView } from "@vast-rental/core";
import { statusBlock, statusKey, statusLine } from "./render";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export interface FollowOptions {
  apiUrl: string;
  apiKey: string;
  jobId: string;
  out: NodeJS.WritableStream & { isTTY?: boolean };
  /** Between two looks at the job. Default 1 s. */
  intervalMs?: number;
  signal?: AbortSignal;
}

export async function fetchJob(
  apiUrl: string,
  apiKey: string,
  jobId: string,
  signal?: AbortSignal,
): Promise<JobView> {
  const response = await fetch(`${apiUrl}/v1/jobs/${encodeURIComponent(jobId)}`, {
    headers: { authorization: `Bearer ${apiKey}` },
    ...(signal ? { signal } : {}),
  });
  if (!response.ok)
    throw new Error(`GET /v1/jobs/${jobId} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as JobView;
}

/** Resolves with the job's final view once it has ended. */
export async function followJob(options: FollowOptions): Promise<JobView> {
  const started = Date.now();
  const tty = options.out.isTTY === true;
  let drawn = 0;
  let lastKey = "";
  for (;;) {
    const view = await fetchJob(options.apiUrl, options.apiKey, options.jobId, options.signal);
    const elapsed = Date.now() - started;
    if (tty) {
      const block = statusBlock(view, elapsed);
      // Back to the block's first line, clear to the end, draw again.
      const up = drawn > 0 ? `\x1b[${drawn}A\x1b[J` : "";
      options.out.write(`${up}${block.join("\n")}\n`);
      drawn = block.length;
    } else {
      const key = statusKey(view);
      if (key !== lastKey) options.out.write(`${statusLine(view, elapsed)}\n`);
      lastKey = key;
    }
    if (TERMINAL.has(view.state)) return view;
    await sleep(options.intervalMs ?? 1000, undefined, options.signal ? { signal: options.signal } : {});
  }
}
