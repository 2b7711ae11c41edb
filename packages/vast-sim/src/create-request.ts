/**
 * The body of `PUT /api/v0/asks/{id}/`, accepting what Vast's clients actually send: `env` as
 * a JSON object or as the CLI's flag string (`-e K=V -p 8080:8080`), `runtype` in any of the
 * spellings (`ssh`, `ssh_direct`, `ssh_direc ssh_proxy`, ...), `args` or `args_str`.
 */
import { z } from "zod";

export const CreateRequestSchema = z
  .object({
    client_id: z.string().optional(),
    image: z.string().min(1).optional(),
    template_hash_id: z.string().optional(),
    disk: z.coerce.number().min(8).default(10),
    label: z.string().max(1024).nullable().optional(),
    env: z
      .union([z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.string()])
      .nullable()
      .optional(),
    onstart: z.string().nullable().optional(),
    runtype: z.string().optional(),
    args: z.array(z.string()).nullable().optional(),
    args_str: z.string().nullable().optional(),
    price: z.number().min(0.001).max(128).nullable().optional(),
    target_state: z.enum(["running", "stopped"]).optional(),
    cancel_unavail: z.boolean().optional(),
  })
  .loose()
  .refine((b) => b.image !== undefined || b.template_hash_id !== undefined, { message: "image is required" });
export type CreateRequest = z.infer<typeof CreateRequestSchema>;

/** The CLI's `parse_env`: `-e K=V` → `K: "V"`; `-p a:b` (and -h/-v/-n) → `"-p a:b": "1"`. */
export function parseEnv(env: CreateRequest["env"]): Record<string, string> {
  if (!env) return {};
  if (typeof env !== "string") return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  const out: Record<string, string> = {};
  const tokens = env.trim().split(/\s+/).filter(Boolean);
  for (let i = 0; i < tokens.length; i++) {
    const flag = tokens[i]!;
    const value = tokens[i + 1];
    if (value === undefined) break;
    if (flag === "-e" || flag === "--env") {
      const eq = value.indexOf("=");
      if (eq > 0) out[value.slice(0, eq)] = value.slice(eq + 1);
      i++;
    } else if (["-p", "-h", "-v", "-n"].includes(flag)) {
      out[`${flag} ${value}`] = "1";
      i++;
    }
  }
  return out;
}

/** Vast echoes runtypes in its truncated token style, e.g. "ssh_direc ssh_proxy". */
export function normaliseRuntype(runtype: string | undefined): string {
  if (!runtype) return "ssh";
  const map: Record<string, string> = {
    ssh_direct: "ssh_direc ssh_proxy",
    ssh_proxy: "ssh_proxy",
    jupyter_direct: "jupyter_direc ssh_direc ssh_proxy",
    jupyter_proxy: "jupyter_proxy ssh_proxy",
    jupyter: "jupyter_proxy ssh_proxy",
  };
  return map[runtype] ?? runtype;
}
