/**
 * SQS messages as the Lambda event source mapping hands them to a function: `SQSRecord`s with the
 * system attributes the handlers read (`ApproximateReceiveCount` above all: it tells a step that
 * this delivery is its last).
 */
import type { Message } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { LOCAL_REGION } from "./aws-identity";

export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const now = String(Date.now());
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
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
