/**
 * Path and query parameter schemas shared by the routes. Query values arrive as strings; numbers
 * are converted before the field's own schema (often the job request's, so a search asks for
 * exactly what a job may) judges them, and the document shows that schema.
 */
import { z } from "@hono/zod-openapi";

/** A number parameter judged by `schema` (which may carry a default); "" counts as absent. */
export function queryNumber<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === undefined || value === "" ? undefined : Number(value)), schema);
}

/** Job ids as the system makes and labels them: printable ASCII without spaces. */
export const JobIdParamSchema = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, "a job id is printable ASCII without spaces")
    .openapi({ param: { name: "id", in: "path" }, example: "job_mc1x2y3z4a5b6c7d8e9f" }),
});

export const InstanceIdParamSchema = z.object({
  id: queryNumber(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)).openapi({
    param: { name: "id", in: "path" },
    example: 31337,
  }),
});
