export {
  COMMAND_DETAIL_TYPES,
  type CommandEvent,
  CommandEventSchema,
  InstanceTerminateRequestedEventSchema,
  RentalCancelRequestedEventSchema,
  RentalRequestedEventSchema,
} from "./commands";
export {
  EventBridgePublisher,
  type EventBridgePublisherOptions,
  EventPublishError,
} from "./eventbridge-publisher";
export { InMemoryEventPublisher } from "./in-memory-publisher";
export {
  EVENT_SOURCE,
  type EventPublisher,
  InstanceProvisionedDetailSchema,
  InstanceTerminatedDetailSchema,
  JobFailedDetailSchema,
  type JobLifecycleEvent,
  JobLifecycleEventSchema,
  type JobLifecycleEventType,
  JobStateChangedDetailSchema,
  JobSubmittedDetailSchema,
  JobSucceededDetailSchema,
  type PublishedEvent,
  PublishedEventSchema,
  ReconcileRequestedDetailSchema,
  type ReconcileRequestedEvent,
  ReconcileRequestedEventSchema,
} from "./job-events";
export { publishBestEffort } from "./publish";
