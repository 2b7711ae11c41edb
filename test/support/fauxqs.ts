/**
 * fauxqs (SQS + S3 emulator) in-process on a free port, with an SQS client pointed at it and
 * a helper to create uniquely named queues, and an S3 client for its S3 side. Call `stop()` in afterAll.
 */
import { randomBytes } from "node:crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { localCredentials } from "./dynamodb";

export interface LocalSqs {
  server: FauxqsServer;
  endpoint: string;
  client: SQSClient;
  /** Creates a queue with a fresh name; returns its URL and name. */
  createQueue(prefix: string, attributes?: Record<string, string>): { url: string; name: string };
  stop(): Promise<void>;
}

export async function startLocalSqs(): Promise<LocalSqs> {
  const server = await startFauxqs({ port: 0, logger: false, host: "127.0.0.1" });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const client = new SQSClient({ endpoint, region: "us-east-1", credentials: localCredentials });
  return {
    server,
    endpoint,
    client,
    createQueue(prefix, attributes = {}) {
      const name = `${prefix}-${randomBytes(4).toString("hex")}`;
      const { queueUrl } = server.createQueue(name, {
        attributes: { VisibilityTimeout: "30", ...attributes },
      });
      return { url: queueUrl, name };
    },
    async stop() {
      client.destroy();
      await server.stop();
    },
  };
}

/** An S3 client for fauxqs's S3 emulation (path-style, local credentials). */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: localCredentials });
}
