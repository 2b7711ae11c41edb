/**
 * Where a job's dataset comes from. The packer streams any of these into one tar stream on
 * the instance; `local` exists for the local stack only and is refused by the cloud intake.
 * An https URL is held to the outbound rules at intake (no userinfo, no localhost, no private
 * or loopback IP literal); the deployment's allowlist is applied through `datasetSourceSchema`.
 */
import { z } from "zod";
import { hasControlCharacters } from "../input";
import { DEFAULT_OUTBOUND_POLICY, MAX_URL_LENGTH, type OutboundPolicy, publicHttpsUrlSchema } from "../net";

/** Refuses `..` segments and control characters: a prefix or path that escapes is bad input. */
const SafeRelativeText = z
  .string()
  .max(1024)
  .refine((s) => !s.split("/").includes(".."), "'..' path segments are not allowed")
  .refine((s) => !hasControlCharacters(s), "control characters are not allowed");

export const S3DatasetSourceSchema = z
  .object({
    kind: z.literal("s3"),
    bucket: z
      .string()
      .min(3)
      .max(63)
      .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, "not a valid S3 bucket name"),
    prefix: SafeRelativeText.default(""),
  })
  .strict();

/** `url` decides which https URLs pass: the intake rules, or only "https" for records already stored. */
function httpsDatasetSourceSchemaWith(url: z.ZodString) {
  return z.object({ kind: z.literal("https"), url }).strict();
}

/** The dataset URL as intake accepts it under `policy` (the allowlist of the deployment). */
export function httpsDatasetSourceSchema(policy: OutboundPolicy = DEFAULT_OUTBOUND_POLICY) {
  return httpsDatasetSourceSchemaWith(publicHttpsUrlSchema(policy, "dataset URLs"));
}

export const HttpsDatasetSourceSchema = httpsDatasetSourceSchema();

export const LocalDatasetSourceSchema = z
  .object({
    kind: z.literal("local"),
    path: z.string().min(1).max(1024),
  })
  .strict();

function datasetSourceSchemaWith(https: typeof HttpsDatasetSourceSchema) {
  return z.discriminatedUnion("kind", [S3DatasetSourceSchema, https, LocalDatasetSourceSchema]);
}

/** Intake under the deployment's outbound policy (the local stack allows its loopback server). */
export function datasetSourceSchema(policy: OutboundPolicy = DEFAULT_OUTBOUND_POLICY) {
  return policy === DEFAULT_OUTBOUND_POLICY
    ? DatasetSourceSchema
    : datasetSourceSchemaWith(httpsDatasetSourceSchema(policy));
}

/** Strict intake: production's rules, no allowlist. */
export const DatasetSourceSchema = datasetSourceSchemaWith(HttpsDatasetSourceSchema);
export type DatasetSource = z.infer<typeof DatasetSourceSchema>;

/**
 * For reading back what was stored: the same shape, https only, without the address rules. A
 * stored source was accepted under some policy (a local stack's, or before a rule existed), and
 * every request to it is checked again anyway, so a record must never become unreadable when
 * the intake rules tighten.
 */
export const StoredDatasetSourceSchema = datasetSourceSchemaWith(
  httpsDatasetSourceSchemaWith(
    z
      .string()
      .max(MAX_URL_LENGTH)
      .refine((u) => u.startsWith("https://"), "dataset URLs must use https"),
  ),
);
