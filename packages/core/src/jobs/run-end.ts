/**
 * When will a training run end? Estimated from its step progress on our own clock, for the
 * completion follow-up (completion-follow-up.ts): the poller asks near a run's end whether the end
 * falls before its next run.
 */

export interface RunProgressSample {
  step: number;
  /** Our clock (ms) when the step was read. */
  at: number;
}

export interface RunEndInput {
  /** Our clock now (ms). */
  now: number;
  /** The step just read, and the run's total. */
  step: number;
  totalSteps: number;
  /** When the run started (the job's `training` transition). */
  startedAt: number;
  /** An earlier reading of this run (the last progress note), if any. */
  previous?: RunProgressSample | null;
}

/**
 * The estimated end (ms), or null when progress says nothing yet. The rate comes from the earlier
 * reading when there is one with fewer steps: the start of a run (downloading the base model,
 * caching latents) makes no steps, so a rate measured from the start would put the end late.
 * A run at its last step is ending now (saving the LoRA).
 */
export function estimateRunEnd(input: RunEndInput): number | null {
  const { now, step, totalSteps } = input;
  if (!(totalSteps > 0) || !(step > 0)) return null;
  if (step >= totalSteps) return now;
  const previous = input.previous;
  const from =
    previous && previous.step < step && previous.at < now ? previous : { step: 0, at: input.startedAt };
  const elapsed = now - from.at;
  if (!(elapsed > 0)) return null;
  const msPerStep = elapsed / (step - from.step);
  return now + Math.ceil((totalSteps - step) * msPerStep);
}
