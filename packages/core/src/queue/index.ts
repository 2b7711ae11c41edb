export { type DeadLetterSink, SqsDeadLetters } from "./dead-letters";
export {
  type Delivery,
  directDelivery,
  retryDelaySeconds,
  type SqsDeliveryInput,
  sqsDelivery,
} from "./delivery";
export { InMemoryJobQueue, type SentMessage } from "./in-memory-job-queue";
export { clampDelay, type EnqueueOptions, type JobQueue, MAX_DELAY_SECONDS } from "./job-queue";
export {
  type CallbackMessage,
  CallbackMessageSchema,
  type CompletionMessage,
  CompletionMessageSchema,
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
export { MAX_DELIVERIES } from "./redrive";
export { type SqsBatchHandler, type SqsBatchHandlerOptions, sqsBatchHandler } from "./sqs-batch";
export { SqsJobQueue, type SqsJobQueueOptions } from "./sqs-job-queue";
