/** Names for Vast's endpoints, used to target faults and rate limits. */
import { z } from "zod";

export const EndpointSchema = z.enum([
  "search",
  "create",
  "show",
  "list",
  "legacy_list",
  "manage",
  "destroy",
  "ssh_keys",
  "instance_ssh",
  "logs",
  "gpu_names",
]);
export type Endpoint = z.infer<typeof EndpointSchema>;
export const EndpointTargetSchema = z.union([EndpointSchema, z.literal("*")]);
export type EndpointTarget = z.infer<typeof EndpointTargetSchema>;
