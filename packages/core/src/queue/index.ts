export {
  type Delivery,
  directDelivery,
  MAX_DELIVERIES,
  retryDelaySeconds,
  type SqsDeliveryInput,
  sqsDelivery,
} from "./delivery";
export { InMemoryJobQueue, type SentMessage } from "./in-memory-job-queue";
export { clampDelay, type EnqueueOptions, type JobQueue, MAX_DELAY_SECONDS } from "./job-queue";
export {
  type ProvisionMessage,
  ProvisionMessageSchema,
  type ProvisionQueueMessage,
  ProvisionQueueMessageSchema,
  type PushMessage,
  PushMessageSchema,
  type QueueMessage,
  QueueMessageSchema,
  type QueueName,
  queueFor,
  type ReadinessMessage,
  ReadinessMessageSchema,
} from "./messages";
export { type SqsBatchHandler, type SqsBatchHandlerOptions, sqsBatchHandler } from "./sqs-batch";
export { SqsJobQueue, type SqsJobQueueOptions } from "./sqs-job-queue";
