/**
 * A complete environment for `createJobDependencies` that reaches nothing: building the
 * dependencies opens no connection, and every endpoint is a closed loopback port.
 */
import { generateTestKeyPair } from "./ssh-keys";

export function offlineJobEnvironment(): Record<string, string> {
  return {
    TABLE_NAME: "jobs",
    PROVISION_QUEUE_URL: "http://127.0.0.1:1/000000000000/provision",
    PUSH_QUEUE_URL: "http://127.0.0.1:1/000000000000/push",
    EVENT_BUS_NAME: "bus",
    VASTAI_API_KEY: "vast-key-0123456789abcdef",
    VASTAI_SSH_PRIVATE_KEY: generateTestKeyPair().private,
    ARTIFACT_BUCKET: "loras",
    S3_ENDPOINT: "http://127.0.0.1:1",
    AWS_REGION: "us-east-1",
  };
}
