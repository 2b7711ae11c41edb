/**
 * Instance labels carry the job that owns an instance: `vast-rental:<jobId>:<attempt>`.
 * After an ambiguous create, and when reaping orphans, the label is how an instance is
 * traced back to its job.
 */
import { z } from "zod";

export const VAST_RENTAL_LABEL_PREFIX = "vast-rental:";

/** Job ids in labels: printable, no whitespace (Vast trims labels), bounded (labels ≤ 1024). */
const JobIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, "job id must be printable ASCII without spaces");
const AttemptSchema = z.number().int().min(1).max(1_000_000);

export const InstanceLabelPartsSchema = z.object({ jobId: JobIdSchema, attempt: AttemptSchema });
export type InstanceLabelParts = z.infer<typeof InstanceLabelPartsSchema>;

export function formatInstanceLabel(parts: InstanceLabelParts): string {
  const { jobId, attempt } = InstanceLabelPartsSchema.parse(parts);
  return `${VAST_RENTAL_LABEL_PREFIX}${jobId}:${attempt}`;
}

/** The job and attempt a label names; null for labels that are not ours. */
export function parseInstanceLabel(label: string | null | undefined): InstanceLabelParts | null {
  if (typeof label !== "string") return null;
  const text = label.trim();
  if (!text.startsWith(VAST_RENTAL_LABEL_PREFIX)) return null;
  const rest = text.slice(VAST_RENTAL_LABEL_PREFIX.length);
  // The attempt follows the last colon, so job ids may themselves contain colons.
  const match = /^(.+):(\d{1,7})$/.exec(rest);
  if (!match) return null;
  const parsed = InstanceLabelPartsSchema.safeParse({ jobId: match[1], attempt: Number(match[2]) });
  return parsed.success ? parsed.data : null;
}

export function isRentalLabel(label: string | null | undefined): boolean {
  return parseInstanceLabel(label) !== null;
}

/** Carries our prefix, whether or not the rest parses: ours to manage, never anyone else's. */
export function hasRentalLabelPrefix(label: string | null | undefined): boolean {
  return typeof label === "string" && label.trim().startsWith(VAST_RENTAL_LABEL_PREFIX);
}
