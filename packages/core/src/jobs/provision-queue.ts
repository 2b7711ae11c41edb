/** Dispatches one message of the provision queue to its step. */
import { type ProvisionQueueMessage, ProvisionQueueMessageSchema } from "../queue";
import { provisionJob } from "./provision";
import type { ProvisionDeps } from "./provision-deps";
import { checkReadiness } from "./readiness";

export class MalformedMessageError extends Error {
  override readonly name = "MalformedMessageError";
}

export function parseProvisionQueueMessage(body: string): ProvisionQueueMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedMessageError("provision queue message is not JSON");
  }
  const parsed = ProvisionQueueMessageSchema.safeParse(json);
  if (!parsed.success) throw new MalformedMessageError(`provision queue message: ${parsed.error.message}`);
  return parsed.data;
}

export async function handleProvisionQueueMessage(
  deps: ProvisionDeps,
  message: ProvisionQueueMessage,
  context: { messageId: string },
): Promise<void> {
  if (message.type === "provision") await provisionJob(deps, message.jobId);
  else await checkReadiness(deps, message, context);
}
