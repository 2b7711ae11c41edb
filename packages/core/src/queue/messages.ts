/**
 * The messages on the work queues. The `provision` queue carries `provision`, `readiness`,
 * `completion` (a follow-up completion check near a run's end) and `callback` (a job's signed
 * callback, retried with a delay); the `push` queue carries `push`.
 * Parsed with zod on receipt: a malformed body is refused.
 */
import { z } from "zod";
import { CallbackDeliverySchema } from "../callbacks/delivery";

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

/** A follow-up completion check of one run, sent by the poller when the run's end is near. */
export const CompletionMessageSchema = z
  .object({
    type: z.literal("completion"),
    jobId: JobIdSchema,
    attempt: z.number().int().positive(),
    /** 1 for the poller's message; each follow-up sends the next number, up to a cap. */
    check: z.number().int().positive(),
    /** When the poller started this chain (ms): names the chain, so duplicates of one check send
     * its successor once. */
    chain: z.number().int().nonnegative(),
  })
  .strict();

export const CallbackMessageSchema = z
  .object({
    type: z.literal("callback"),
    jobId: JobIdSchema,
    /** The job's callbackUrl, checked at intake and again before every try. */
    url: z.string().min(1).max(2048),
    delivery: CallbackDeliverySchema,
    /** Tries so far, this one included (drives the backoff). */
    attempt: z.number().int().positive().default(1),
  })
  .strict();

export const ProvisionQueueMessageSchema = z.discriminatedUnion("type", [
  ProvisionMessageSchema,
  ReadinessMessageSchema,
  CompletionMessageSchema,
  CallbackMessageSchema,
]);
export const QueueMessageSchema = z.discriminatedUnion("type", [
  ProvisionMessageSchema,
  ReadinessMessageSchema,
  CompletionMessageSchema,
  CallbackMessageSchema,
  PushMessageSchema,
]);

export type ProvisionMessage = z.infer<typeof ProvisionMessageSchema>;
export type ReadinessMessage = z.input<typeof ReadinessMessageSchema>;
export type PushMessage = z.infer<typeof PushMessageSchema>;
export type CompletionMessage = z.infer<typeof CompletionMessageSchema>;
export type CallbackMessage = z.input<typeof CallbackMessageSchema>;
export type ProvisionQueueMessage = z.output<typeof ProvisionQueueMessageSchema>;
export type QueueMessage = z.input<typeof QueueMessageSchema>;

export type QueueName = "provision" | "push";

/** Which queue a message travels on. */
export function queueFor(message: QueueMessage): QueueName {
  return message.type === "push" ? "push" : "provision";
}
