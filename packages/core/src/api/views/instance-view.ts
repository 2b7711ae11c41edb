/**
 * An instance of ours as the API shows it: Vast's live view (normalized by the client) and the
 * job and attempt its label names. Instances without our label never reach this.
 */
import { z } from "@hono/zod-openapi";
import { parseInstanceLabel, type VastInstance, VastInstanceSchema } from "../../vast";

export const InstanceViewSchema = VastInstanceSchema.extend({
  owner: z.object({ jobId: z.string(), attempt: z.number().int() }).nullable().openapi({
    description: "The job and attempt the label names; null when the label is ours but unreadable.",
  }),
}).openapi("Instance");
export type InstanceView = z.infer<typeof InstanceViewSchema>;

export function instanceView(instance: VastInstance): InstanceView {
  return { ...instance, owner: parseInstanceLabel(instance.label) };
}

export const InstanceActionSchema = z
  .object({
    instanceId: z.number().int(),
    action: z.enum(["stop", "start"]),
    accepted: z.literal(true),
  })
  .openapi("InstanceAction");

export const TerminatedInstanceSchema = z
  .object({
    instanceId: z.number().int(),
    held: z.enum(["attempt", "ending", "stray"]).openapi({
      description:
        "`attempt`: a live job held it, that attempt ended (the job moves on to another GPU when it may); `ending`: a live job held it and was already ending with its LoRA stored — that ending destroys it and the job succeeds; `stray`: nobody held it.",
    }),
    jobId: z.string().nullable(),
  })
  .openapi("TerminatedInstance");
