/**
 * SQS messages as the Lambda event source mapping hands them to a function: `SQSRecord`s with the
 * system attributes the handlers read (`ApproximateReceiveCount` above all: it tells a step that
 * this delivery is its last).
 *
 * A message carrying `DUPLICATE_OF` is a copy a queue worker sent to model SQS's at-least-once
 * delivery (`startQueueWorker`'s `duplicates`): it is handed over as another delivery of the
 * original — the original's message id, and the original's receive count plus its own — since that
 * is what a duplicate delivery looks like to a function.
 */
import type { Message } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { LOCAL_REGION } from "./aws-identity";

/** Message attribute naming the message a duplicate copies. */
export const DUPLICATE_OF = "LocalDuplicateOf";
/** Message attribute holding the original's receive count when it was copied. */
export const DUPLICATE_RECEIVE_COUNT = "LocalDuplicateReceiveCount";

export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const now = String(Date.now());
  const duplicateOf = message.MessageAttributes?.[DUPLICATE_OF]?.StringValue;
  const ownCount = Number(attributes.ApproximateReceiveCount ?? "1");
  const baseCount = Number(message.MessageAttributes?.[DUPLICATE_RECEIVE_COUNT]?.StringValue ?? "0");
  return {
    messageId: duplicateOf ?? message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: duplicateOf
        ? String(baseCount + ownCount)
        : (attributes.ApproximateReceiveCount ?? "1"),
      SentTimestamp: attributes.SentTimestamp ?? now,
      SenderId: attributes.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? now,
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}
