/**
 * The body of `PUT /api/v0/asks/{id}/`, accepting what Vast's clients actually send.
 *
 * The official CLI (vast-ai/vast-cli `vastai/api/instances.py` `create_instance`, fed by
 * `vastai/cli/commands/instances.py` `create_instance_impl`) always sends every key it knows,
 * with `null` for what the user left out: `price`, `label`, `extra`, `onstart`, `image_login`,
 * `jupyter_dir`, `template_hash_id`, `user`, and `image` when a template is used. It adds
 * `client_id: "me"`, `env` as an object (`{}` when empty), `disk` as a float, the flags
 * `python_utf8`, `lang_utf8`, `use_jupyter_lab`, `force`, `cancel_unavail` as booleans, and
 * `runtype`, `args`, `volume_info` only when set. `null` therefore means "not given" for every
 * optional key. Also accepted: `env` as the CLI's flag string (`-e K=V -p 8080:8080`),
 * `runtype` in any spelling (`ssh`, `ssh_direct`, `ssh_direc ssh_proxy`, ...), `args` or
 * `args_str`.
 *
 * Refused (400 `invalid_args`, naming the key), at the limits Vast's API reference states: no
 * `image` and no `template_hash_id`; `disk` below 8; `price` outside 0.001–128; a label over
 * 1024 characters; `args` + `args_str` + `onstart` over 4096 characters; `env` over 32768
 * characters. Also refused: a key of the wrong type (`image: 42`, `force: "yes"`).
 */
import { z } from "zod";

/** `null` is how Python clients say "not given": treat it as absent. */
const absentIfNull = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional());

const EnvSchema = z.union([z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.string()]);

/** Vast's documented limits on what a create may carry. */
export const CREATE_LIMITS = { startupChars: 4096, envChars: 32768, labelChars: 1024 } as const;

export const CreateRequestSchema = z
  .object({
    client_id: absentIfNull(z.string()),
    image: absentIfNull(z.string().min(1)),
    template_hash_id: absentIfNull(z.string().min(1)),
    disk: absentIfNull(z.coerce.number().min(8)).transform((d) => d ?? 10),
    label: z.string().max(CREATE_LIMITS.labelChars).nullable().optional(),
    env: EnvSchema.nullable().optional(),
    onstart: z.string().nullable().optional(),
    runtype: absentIfNull(z.string()),
    args: z.array(z.string()).nullable().optional(),
    args_str: z.string().nullable().optional(),
    price: z.number().min(0.001).max(128).nullable().optional(),
    target_state: absentIfNull(z.enum(["running", "stopped"])),
    cancel_unavail: absentIfNull(z.boolean()),
    // Accepted and not modelled by the simulator; typed as Vast documents them.
    extra: z.string().nullable().optional(),
    image_login: z.string().nullable().optional(),
    jupyter_dir: z.string().nullable().optional(),
    user: z.string().nullable().optional(),
    python_utf8: z.boolean().nullable().optional(),
    lang_utf8: z.boolean().nullable().optional(),
    use_jupyter_lab: z.boolean().nullable().optional(),
    force: z.boolean().nullable().optional(),
    vm: z.boolean().nullable().optional(),
    volume_info: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .loose()
  .superRefine((b, ctx) => {
    if (b.image === undefined && b.template_hash_id === undefined)
      ctx.addIssue({ code: "custom", path: ["image"], message: "required unless template_hash_id is given" });
    const startup = (b.args ?? []).join(" ").length + (b.args_str ?? "").length + (b.onstart ?? "").length;
    if (startup > CREATE_LIMITS.startupChars)
      ctx.addIssue({
        code: "custom",
        path: ["onstart"],
        message: `args, args_str and onstart together exceed ${CREATE_LIMITS.startupChars} characters`,
      });
    const env = b.env ?? null;
    const envChars = env === null ? 0 : typeof env === "string" ? env.length : JSON.stringify(env).length;
    if (envChars > CREATE_LIMITS.envChars)
      ctx.addIssue({
        code: "custom",
        path: ["env"],
        message: `env exceeds ${CREATE_LIMITS.envChars} characters`,
      });
  });
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
