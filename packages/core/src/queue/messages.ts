/**
 * The messages on the work queues. The `provision` queue carries `provision` and `readiness`;
 * the `push` queue carries `push`. Parsed with zod on receipt: a malformed body is refused.
 */
import { z } from "zod";

const JobIdSchema = z.string().min(1).max(200);

export const ProvisionMessageSchema = z.object({ type: z.literal("provision"), jobId: JobIdSchema }).strict();
export const ReadinessMessageSchema = z
  .object({
    type: z.literal("readiness"),
    jobId: JobIdSchema,
    attempt: z.number().int().positive(),
    /** How many checks came before this one (drives the backoff). */
    check: z.number().int().nonnegative().default(0),
  })
  .strict();
export const PushMessageSchema = z
  .object({ type: z.literal("push"), jobId: JobIdSchema, attempt: z.number().int().positive() })
  .strict();

export const ProvisionQueueMessageSchema = z.discriminatedUnion("type", [
  ProvisionMessageSchema,
  ReadinessMessageSchema,
]);
export const QueueMessageSchema = z.discriminatedUnion("type", [
  ProvisionMessageSchema,
  ReadinessMessageSchema,
  PushMessageSchema,
]);

export type ProvisionMessage = z.infer<typeof ProvisionMessageSchema>;
export type ReadinessMessage = z.input<typeof ReadinessMessageSchema>;
export type PushMessage = z.infer<typeof PushMessageSchema>;
export type ProvisionQueueMessage = z.output<typeof ProvisionQueueMessageSchema>;
export type QueueMessage = z.input<typeof QueueMessageSchema>;

export type QueueName = "provision" | "push";

/** Which queue a message travels on. */
export function queueFor(message: QueueMessage): QueueName {
  return message.type === "push" ? "push" : "provision";
}
