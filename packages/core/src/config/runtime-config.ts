/**
 * Where the handlers find their resources (table, queues, bus, secret), read once from the
 * environment that SST (or the local stack) sets. Holds no secrets.
 */
import { z } from "zod";

/** Lenient on purpose: emulators hand out URLs like `http://sqs.us-east-1.127.0.0.1:4566/...`. */
const HttpUrl = z.string().regex(/^https?:\/\/\S+$/, "must be an http(s) URL");

export const RuntimeConfigSchema = z.object({
  TABLE_NAME: z.string().min(1),
  PROVISION_QUEUE_URL: HttpUrl,
  PUSH_QUEUE_URL: HttpUrl,
  EVENT_BUS_NAME: z.string().min(1),
  /** Where the EventBridge subscriber puts a command it can never apply (with the reason). */
  COMMANDS_DLQ_URL: HttpUrl.optional(),
  SECRET_ID: z.string().min(1).optional(),
  VASTAI_BASE_URL: HttpUrl.optional(),
  /** Endpoint overrides for the local stack (DynamoDB Local, fauxqs). */
  DYNAMODB_ENDPOINT: HttpUrl.optional(),
  SQS_ENDPOINT: HttpUrl.optional(),
  EVENTBRIDGE_ENDPOINT: HttpUrl.optional(),
  POWERTOOLS_SERVICE_NAME: z.string().default("vast-rental"),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function loadRuntimeConfig(env: Record<string, string | undefined> = process.env): RuntimeConfig {
  return parseEnv(RuntimeConfigSchema, env);
}

/** Reads a handler's environment through its schema; the error names the variables, never their values. */
export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: Record<string, string | undefined>,
): z.output<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
    throw new ConfigError(`missing or invalid environment: ${names}`);
  }
  return parsed.data;
}
