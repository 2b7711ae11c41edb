/**
 * SQS and S3 for the local stack, on fauxqs (in process): the `provision` and `push` queues with
 * their dead-letter queues and redrive counts as deployed, the events subscriber's dead-letter
 * queue, and the dataset and artifact buckets.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs } from "fauxqs";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./aws-identity";

/** A queue as its consumers and producers see it. */
export interface LocalQueue {
  name: string;
  url: string;
  arn: string;
}

/** How a work queue is declared: its visibility timeout and how often it delivers before its DLQ. */
export interface WorkQueueSpec {
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
}

export interface LocalAwsOptions {
  port: number;
  queues: { provision: WorkQueueSpec; push: WorkQueueSpec };
  buckets: { datasets: string; artifacts: string };
}

export interface LocalAws {
  /** SQS and S3 endpoint (one server). */
  endpoint: string;
  sqs: SQSClient;
  s3: S3Client;
  queues: {
    provision: LocalQueue;
    provisionDlq: LocalQueue;
    push: LocalQueue;
    pushDlq: LocalQueue;
    commandsDlq: LocalQueue;
  };
  stop(): Promise<void>;
}

export async function startLocalAws(options: LocalAwsOptions): Promise<LocalAws> {
  const server = await startFauxqs({ port: options.port, logger: false, host: "127.0.0.1" });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const queue = (name: string, attributes: Record<string, string>): LocalQueue => {
    const created = server.createQueue(name, { attributes });
    return { name, url: created.queueUrl, arn: created.queueArn };
  };
  const workQueue = (name: string, spec: WorkQueueSpec) => {
    const dlq = queue(`${name}-dlq`, { VisibilityTimeout: String(spec.visibilityTimeoutSeconds) });
    const main = queue(name, {
      VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: spec.maxReceiveCount }),
    });
    return [main, dlq] as const;
  };
  const [provision, provisionDlq] = workQueue("provision", options.queues.provision);
  const [push, pushDlq] = workQueue("push", options.queues.push);
  const commandsDlq = queue("commands-dlq", { VisibilityTimeout: "60" });
  server.createBucket(options.buckets.datasets);
  server.createBucket(options.buckets.artifacts);
  const clientOptions = { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient(clientOptions);
  const s3 = new S3Client({ ...clientOptions, forcePathStyle: true });
  return {
    endpoint,
    sqs,
    s3,
    queues: { provision, provisionDlq, push, pushDlq, commandsDlq },
    async stop() {
      sqs.destroy();
      s3.destroy();
      await server.stop();
    },
  };
}
