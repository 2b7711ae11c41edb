/**
 * Where a job's dataset comes from. The packer streams any of these into one tar stream on
 * the instance; `local` exists for the local stack only and is refused by the cloud intake.
 */
import { z } from "zod";
import { hasControlCharacters } from "../input";

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

export const HttpsDatasetSourceSchema = z
  .object({
    kind: z.literal("https"),
    url: z
      .url()
      .max(2048)
      .refine((u) => u.startsWith("https://"), "dataset URLs must use https"),
  })
  .strict();

export const LocalDatasetSourceSchema = z
  .object({
    kind: z.literal("local"),
    path: z.string().min(1).max(1024),
  })
  .strict();

export const DatasetSourceSchema = z.discriminatedUnion("kind", [
  S3DatasetSourceSchema,
  HttpsDatasetSourceSchema,
  LocalDatasetSourceSchema,
]);
export type DatasetSource = z.infer<typeof DatasetSourceSchema>;
