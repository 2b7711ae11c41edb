/**
 * Training templates as files: every `<name>.yml` in a folder (packages/core/configs) is a template
 * named after its file. A file holds two YAML documents — a header saying what the template is
 * for and what it needs from a host, then the ai-toolkit config `run.py` receives — with
 * `!param <name>` wherever a job's value goes (configs/README.md describes the format).
 *
 * Values are inserted as YAML data: each `!param` scalar node of the parsed document is replaced
 * by a node built from the value, never by editing text, so no value can change the document's
 * structure. Every file is parsed, its placeholders checked against the known names and the
 * config rendered with sample values and validated against `AiToolkitConfigSchema` when the
 * folder is loaded; anything wrong is refused with the file and line (`TemplateFileError`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Document,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  type Scalar,
  visit,
} from "yaml";
import { z } from "zod";
import { hasControlCharacters } from "../input";
import { AiToolkitConfigSchema } from "./ai-toolkit-config";

/** The YAML tag of a placeholder: `steps: !param steps`. */
export const PARAM_TAG = "!param";

/**
 * The names a template may use after `!param`, and what each holds (configs/README.md). A name
 * outside this list is refused when the folder is loaded.
 */
export const TEMPLATE_PARAMETERS = [
  "jobId",
  "trainingFolder",
  "datasetFolder",
  "triggerWord",
  "steps",
  "learningRate",
  "rank",
  "resolution",
  "batchSize",
  "samplePrompts",
  "seed",
  "saveEvery",
  "sampleSize",
] as const;
export type TemplateParameter = (typeof TEMPLATE_PARAMETERS)[number];
export type TemplateValues = Readonly<Record<TemplateParameter, unknown>>;

/** Docker image references: registry/name[:tag][@digest], no whitespace or shell metacharacters. */
export const DockerImageRefSchema = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .regex(
    /^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/i,
    "image must be a Docker image reference such as 'ostris/aitoolkit:0.13.18'",
  );

const AbsolutePathSchema = z
  .string()
  .min(2)
  .max(512)
  .refine((s) => s.startsWith("/"), "must be an absolute path")
  .refine((s) => !s.split("/").includes(".."), "may not contain '..'")
  .refine((s) => !hasControlCharacters(s), "may not contain control characters")
  .transform((s) => s.replace(/\/+$/, ""));

/** What a run of the template needs from the machine it is rented on. */
export const TemplateHostNeedsSchema = z.strictObject({
  /** VRAM per GPU, in GB as offers report it (`round(gpu_ram / 1024)`). */
  minVramGb: z.number().positive().max(1024),
  /** GPUs the run uses. */
  gpuCount: z.number().int().min(1).max(16),
  /** The base model as the trainer downloads it into its cache, in GB (10^9 bytes). */
  modelCacheGb: z.number().nonnegative().max(10_000),
  /** Checkpoints, sample images and the latent cache written while training, in GB. */
  outputsReserveGb: z.number().nonnegative().max(10_000),
  /** The CUDA version the image needs the host's driver to support (offers' `cuda_max_good`). */
  minCudaVersion: z.number().positive().max(99),
});
export type TemplateHostNeeds = z.infer<typeof TemplateHostNeedsSchema>;

/** The image the run happens in, and where ai-toolkit is inside it. */
export const TemplateImageSchema = z.strictObject({
  ref: DockerImageRefSchema,
  /** The folder holding ai-toolkit's `run.py` (the run's working directory). */
  toolkitDir: AbsolutePathSchema,
  /** The interpreter that runs `run.py`: a program on PATH or an absolute path. */
  python: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[A-Za-z0-9_./+-]+$/, "must be a program name or path"),
});
export type TemplateImage = z.infer<typeof TemplateImageSchema>;

export const TemplateHeaderSchema = z.strictObject({
  description: z.string().trim().min(1).max(2000),
  model: z.strictObject({
    /** The Hugging Face repository the trainer downloads (the config's `model.name_or_path`). */
    id: z.string().trim().min(1).max(256),
    /** A gated repository: the download needs a Hugging Face token (`hfToken` in the secret). */
    gated: z.boolean(),
  }),
  host: TemplateHostNeedsSchema,
  image: TemplateImageSchema,
  /** Bounds the template puts on the job's parameters (within the request's own bounds). */
  limits: z
    .strictObject({
      /** Requested resolutions above this are dropped (512 when none is left). */
      maxResolution: z.union([z.literal(512), z.literal(768), z.literal(1024)]).default(1024),
      /** The batch size is capped at this. */
      maxBatchSize: z.number().int().min(1).max(8).default(8),
    })
    .default({ maxResolution: 1024, maxBatchSize: 8 }),
});
export type TemplateHeader = z.infer<typeof TemplateHeaderSchema>;

/** A template as loaded: its header, and its ai-toolkit config still holding the placeholders. */
export interface TrainingTemplate extends TemplateHeader {
  name: string;
  /** The file it was read from. */
  file: string;
  /** Placeholders the config uses, each with the line it is on. */
  parameters: readonly { name: TemplateParameter; line: number }[];
  /** The ai-toolkit config document; never changed (rendering works on a copy). */
  readonly config: Document.Parsed;
}

/** Every template of a folder, by name. */
export type TrainingTemplates = ReadonlyMap<string, TrainingTemplate>;

/** A template file that cannot be used: says which file, and the line when there is one. */
export class TemplateFileError extends Error {
  override readonly name = "TemplateFileError";
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly problem: string,
  ) {
    super(`${file}${line === null ? "" : `:${line}`}: ${problem}`);
  }
}

/** Template names become `template` values in requests: a conservative alphabet. */
const TEMPLATE_FILE = /^([a-z0-9][a-z0-9-]{0,62})\.yml$/;

/**
 * Where the templates are when no folder is given, tried in order: from this module in the
 * repository (packages/core/src/training → packages/core/configs), then from a bundled handler
 * (`functions/<name>.mjs` → `configs/`, where sst.config.ts copies the folder; see
 * `TEMPLATES_BUNDLE_COPY` in deployment/). Reads no environment.
 */
const DEFAULT_DIR_CANDIDATES = ["../../configs/", "../configs/"] as const;

export function defaultTemplatesDir(base: string | URL = import.meta.url): string {
  const tried: string[] = [];
  for (const candidate of DEFAULT_DIR_CANDIDATES) {
    const dir = fileURLToPath(new URL(candidate, base));
    tried.push(dir);
    if (isDirectory(dir)) return dir;
  }
  throw new TemplateFileError(
    tried.join(" or "),
    null,
    "no training templates folder (packages/core/configs, copied as `configs` beside a bundled handler)",
  );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Reads and validates every template in `dir`. Throws `TemplateFileError` for the first file that
 * cannot be used (a YAML error, a header or config that breaks its schema, an unknown placeholder),
 * naming the file and line; a folder without templates is refused too.
 */
export function loadTemplates(dir: string = defaultTemplatesDir()): TrainingTemplates {
  const templates = new Map<string, TrainingTemplate>();
  const entries = readdirSync(dir).sort();
  for (const entry of entries) {
    const path = join(dir, entry);
    if (entry.endsWith(".yaml")) {
      throw new TemplateFileError(path, null, "template files end in .yml (this one would be ignored)");
    }
    if (!entry.endsWith(".yml")) continue;
    const match = TEMPLATE_FILE.exec(entry);
    if (!match?.[1]) {
      throw new TemplateFileError(
        path,
        null,
        "a template's file name is its name: lowercase letters, digits and '-', then .yml",
      );
    }
    templates.set(match[1], parseTemplate(match[1], path, readFileSync(path, "utf8")));
  }
  if (templates.size === 0)
    throw new TemplateFileError(dir, null, "no training templates (*.yml) in this folder");
  return templates;
}

/** Parses one template file's text (`name` and `file` as loadTemplates would give them). */
export function parseTemplate(name: string, file: string, source: string): TrainingTemplate {
  const lines = new LineCounter();
  const fail = (offset: number | null, problem: string): never => {
    throw new TemplateFileError(file, offset === null ? null : lines.linePos(offset).line, problem);
  };
  const parsed = parseAllDocuments(source, {
    lineCounter: lines,
    prettyErrors: true,
    uniqueKeys: true,
    customTags: [{ tag: PARAM_TAG, resolve: (value: string) => value }],
  });
  if (!Array.isArray(parsed)) return fail(null, "the file is empty");
  for (const doc of parsed) {
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) fail(problem.pos[0], problem.message.split("\n")[0] ?? problem.message);
  }
  if (parsed.length !== 2) {
    return fail(
      parsed[2]?.range[0] ?? null,
      `a template holds two YAML documents (the header, then the ai-toolkit config after '---'), not ${parsed.length}`,
    );
  }
  const [headerDoc, config] = parsed as [Document.Parsed, Document.Parsed];

  const header = TemplateHeaderSchema.safeParse(headerDoc.toJS());
  if (!header.success) {
    const issue = header.error.issues[0];
    return fail(offsetOf(headerDoc, issue?.path ?? []), `header: ${describeIssue(issue)}`);
  }

  const parameters: { name: TemplateParameter; line: number }[] = [];
  visit(config, {
    Node(_key, node) {
      if (node.tag === PARAM_TAG && !isScalar(node))
        fail(node.range?.[0] ?? null, `${PARAM_TAG} takes a name`);
    },
    Scalar(_key, node) {
      if (node.tag !== PARAM_TAG) return;
      const placeholder = String(node.value).trim();
      const offset = node.range?.[0] ?? 0;
      if (!(TEMPLATE_PARAMETERS as readonly string[]).includes(placeholder)) {
        fail(
          offset,
          `unknown placeholder ${PARAM_TAG} ${placeholder} (known: ${TEMPLATE_PARAMETERS.join(", ")})`,
        );
      }
      parameters.push({ name: placeholder as TemplateParameter, line: lines.linePos(offset).line });
    },
  });

  const template: TrainingTemplate = { name, file, ...header.data, parameters, config };
  // The config with sample values must be a valid ai-toolkit config, and train the header's model.
  const sample = renderTemplateConfig(template, sampleValues(template));
  const checked = AiToolkitConfigSchema.safeParse(sample);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return fail(offsetOf(config, issue?.path ?? []), `ai-toolkit config: ${describeIssue(issue)}`);
  }
  const modelPath = ["config", "process", 0, "model", "name_or_path"];
  for (const [index, process] of checked.data.config.process.entries()) {
    if (process.model.name_or_path !== template.model.id) {
      modelPath[2] = index;
      fail(
        offsetOf(config, modelPath),
        `the config trains ${process.model.name_or_path} but the header's model.id is ${template.model.id}`,
      );
    }
  }
  return template;
}

/**
 * The template's ai-toolkit config as plain data, each placeholder replaced by its value: the
 * parsed document is copied and every `!param` scalar node swapped for a node made from the value,
 * so a value is data whatever characters it holds. Not validated here (see renderTrainingConfig).
 */
export function renderTemplateConfig(template: TrainingTemplate, values: TemplateValues): unknown {
  const copy = template.config.clone();
  visit(copy, {
    Scalar(_key, node: Scalar) {
      if (node.tag !== PARAM_TAG) return;
      const name = String(node.value).trim() as TemplateParameter;
      if (!(name in values))
        throw new TemplateFileError(template.file, null, `no value for ${PARAM_TAG} ${name}`);
      return copy.createNode(values[name]) as Node;
    },
  });
  return copy.toJS({ maxAliasCount: 100 });
}

/** Values a real job could have, for checking a template when it is loaded. */
function sampleValues(template: TrainingTemplate): TemplateValues {
  const resolution = [512, 768, 1024].filter((r) => r <= template.limits.maxResolution);
  return {
    jobId: "template-check",
    trainingFolder: "/workspace/jobs/template-check/output",
    datasetFolder: "/workspace/jobs/template-check/dataset",
    triggerWord: "ohwx",
    steps: 2000,
    learningRate: 1e-4,
    rank: 16,
    resolution,
    batchSize: 1,
    samplePrompts: ["a photo of ohwx"],
    seed: 42,
    saveEvery: 250,
    sampleSize: Math.max(...resolution),
  };
}

/**
 * Where `path` is in the document: the line of the key (or list item) it names, else that of its
 * nearest ancestor present — a missing key is reported where the object that lacks it starts.
 */
function offsetOf(doc: Document.Parsed, path: readonly PropertyKey[]): number | null {
  let node: unknown = doc.contents;
  let offset = startOf(node);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === segment);
      if (!pair) break;
      offset = startOf(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number" && node.items[segment] !== undefined) {
      node = node.items[segment];
      offset = startOf(node) ?? offset;
    } else {
      break;
    }
  }
  return offset;
}

function startOf(node: unknown): number | null {
  return isNode(node) && node.range ? node.range[0] : null;
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "invalid";
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}
