/**
 * The events other AWS services send to drive the system (any source but ours), by detail type:
 * each maps to the same command as the HTTP API. Validated with these schemas; an event that does
 * not parse is refused whole (the subscriber's dead-letter queue keeps it, with the reason).
 */
import { z } from "zod";

/** `Rental Requested`: a job request, exactly as `POST /v1/jobs` takes it (validated there). */
export const RentalRequestedEventSchema = z.object({
  "detail-type": z.literal("Rental Requested"),
  detail: z.record(z.string(), z.unknown()),
});

export const RentalCancelRequestedEventSchema = z.object({
  "detail-type": z.literal("Rental Cancel Requested"),
  detail: z
    .object({
      jobId: z.string().min(1).max(200),
      reason: z.string().min(1).max(500).optional(),
    })
    .strict(),
});

export const InstanceTerminateRequestedEventSchema = z.object({
  "detail-type": z.literal("Instance Terminate Requested"),
  detail: z
    .object({
      instanceId: z.number().int().positive(),
      reason: z.string().min(1).max(500).optional(),
    })
    .strict(),
});

/** An inbound EventBridge event as Lambda receives it (only the fields the commands read). */
export const CommandEventSchema = z.discriminatedUnion("detail-type", [
  RentalRequestedEventSchema,
  RentalCancelRequestedEventSchema,
  InstanceTerminateRequestedEventSchema,
]);
export type CommandEvent = z.infer<typeof CommandEventSchema>;
export const COMMAND_DETAIL_TYPES = CommandEventSchema.options.map((o) => o.shape["detail-type"].value);
