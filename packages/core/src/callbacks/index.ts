/** Public face of job callbacks: the signed delivery of a job's lifecycle events to its callbackUrl. */
export {
  CALLBACK_HEADERS,
  type CallbackDelivery,
  CallbackDeliverySchema,
  type CallbackOutcome,
  type CallbackSender,
  callbackBody,
  callbackDeliveryId,
} from "./delivery";
export {
  CallbackDeadlineError,
  DEFAULT_CALLBACK_DEADLINE_MS,
  HttpCallbackSender,
  type HttpCallbackSenderOptions,
} from "./http-sender";
