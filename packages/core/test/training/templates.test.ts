import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  AiToolkitConfigSchema,
  assertModelAccess,
  defaultTemplatesDir,
  GatedModelWithoutTokenError,
  instanceEnvironment,
  loadTemplates,
  parseTrainingRequest,
  renderTemplateConfig,
  renderTrainingConfig,
  TEMPLATE_PARAMETERS,
  TemplateFileError,
  TRAINING_TEMPLATES,
  TrainingParamsError,
  TrainingTemplateNameSchema,
  templateDiskNeeds,
  templateFor,
  UnknownTemplateError,
} from "../../src/training";

const base = { params: { triggerWord: "sks_person" } };
const configsDir = defaultTemplatesDir();
const FLUX_DEV = "black-forest-labs/FLUX.1-dev";

describe("template files", () => {
  it("every file of packages/core/configs loads, validates and names a template; the request schema offers exactly those", async () => {
    const files = (await readdir(configsDir)).filter((f) => f.endsWith(".yml")).sort();
    expect(files).toEqual(["flux-lora-24gb.yml", "flux-lora-low-vram.yml"]);
    const loaded = loadTemplates(configsDir);
    expect([...loaded.keys()]).toEqual(["flux-lora-24gb", "flux-lora-low-vram"]);
    expect([...TRAINING_TEMPLATES.keys()]).toEqual([...loaded.keys()]);
    expect(TrainingTemplateNameSchema.options).toEqual([...loaded.keys()]);
    for (const template of loaded.values()) {
      expect(template.file).toBe(join(configsDir, `${template.name}.yml`));
      expect(template.description.length).toBeGreaterThan(20);
      expect(template.model).toEqual({ id: FLUX_DEV, gated: true });
      expect(template.image).toEqual({
        ref: "ostris/aitoolkit:0.13.18",
        toolkitDir: "/app/ai-toolkit",
        python: "python",
      });
      expect(template.host).toMatchObject({
        gpuCount: 1,
        // FLUX.1-dev in diffusers format: transformer 23.8 + T5-XXL 9.5 + CLIP 0.25 + VAE 0.17 GB, rounded up.
        modelCacheGb: 34,
        outputsReserveGb: 4,
        // The image is built on CUDA 13 (driver ≥ 580).
        minCudaVersion: 13,
      });
      expect(template.parameters.map((p) => p.name)).toEqual(
        expect.arrayContaining(["jobId", "trainingFolder", "datasetFolder", "triggerWord", "steps"]),
      );
      // The line each placeholder is on, as in the file.
      const lines = readFileSync(template.file, "utf8").split("\n");
      for (const { name, line } of template.parameters) expect(lines[line - 1]).toContain(`!param ${name}`);
    }
    expect(loaded.get("flux-lora-24gb")?.host.minVramGb).toBe(24);
    expect(loaded.get("flux-lora-low-vram")?.host.minVramGb).toBe(12);
    expect(loaded.get("flux-lora-low-vram")?.limits).toEqual({ maxResolution: 768, maxBatchSize: 2 });
  });

  it("render exactly what the TypeScript templates they replace rendered", () => {
    // Captured from the renderer of packages/core/src/training/templates.ts before the files existed.
    const golden = JSON.parse(
      readFileSync(join(import.meta.dirname, "fixtures", "rendered-by-typescript-templates.json"), "utf8"),
    ) as { request: unknown; target: { jobId: string; workspaceRoot?: string }; yaml: string }[];
    expect(golden.length).toBe(12);
    for (const { request, target, yaml } of golden) {
      expect(renderTrainingConfig(parseTrainingRequest(request), target).yaml).toBe(yaml);
    }
  });

  it("adding a template is adding a file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "templates-"));
    try {
      await copyFile(join(configsDir, "flux-lora-low-vram.yml"), join(dir, "flux-lora-tiny.yml"));
      await writeFile(join(dir, "README.md"), "not a template\n");
      const templates = loadTemplates(dir);
      expect([...templates.keys()]).toEqual(["flux-lora-tiny"]);
      const { config } = renderTrainingConfig(
        { template: "flux-lora-tiny", params: base.params },
        { jobId: "j" },
        templates,
      );
      expect(config.config.process[0]?.model.low_vram).toBe(true);
      expect(() =>
        renderTrainingConfig({ template: "flux-lora-24gb", params: base.params }, { jobId: "j" }, templates),
      ).toThrow(UnknownTemplateError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("values are YAML data, never text", () => {
  const hostile = [
    "x\n  evil: 1",
    '"]: {',
    "a: b",
    "- item",
    "{ job: evil }",
    "!param steps",
    "*alias",
    "&anchor x",
    "# comment",
    "---\njob: evil",
    "'",
    "\\",
    "x\r\nevil: 1",
    "true",
    "123",
    "null",
    "~",
  ];

  it.each(TrainingTemplateNameSchema.options)(
    "%s: a hostile trigger word and prompts round-trip as plain strings, the document's shape unchanged",
    (name) => {
      const template = templateFor({ template: name });
      const reference = renderTemplateConfig(template, sampleValues("ohwx", ["a photo", "another"]));
      for (const word of hostile) {
        const rendered = renderTemplateConfig(template, sampleValues(word, [word, `${word} twice ${word}`]));
        const text = stringify(rendered, { lineWidth: 0 });
        const back = parse(text);
        // Same keys everywhere: nothing was added, moved or removed.
        expect(shapeOf(back)).toEqual(shapeOf(reference));
        expect(back).toEqual(rendered);
        const p = back.config.process[0];
        expect(p.trigger_word).toBe(word);
        expect(p.sample.prompts).toEqual([word, `${word} twice ${word}`]);
        expect(back.config.name).toBe("job-1");
        expect(back.evil).toBeUndefined();
      }
    },
  );

  it("a sample prompt with YAML syntax goes through the public path unchanged", () => {
    const prompts = ['"]: {', 'sks_person: "hello" # not a comment', "- [x] {y} & *z", "multi 'quote'"];
    const { yaml, config } = renderTrainingConfig(
      parseTrainingRequest({ params: { ...base.params, samplePrompts: prompts } }),
      { jobId: "j" },
    );
    expect(parse(yaml).config.process[0].sample.prompts).toEqual(prompts);
    expect(AiToolkitConfigSchema.parse(parse(yaml))).toEqual(config);
  });
});

/** Every placeholder's value, the trigger word and prompts as given. */
function sampleValues(triggerWord: string, samplePrompts: string[]) {
  return {
    jobId: "job-1",
    trainingFolder: "/workspace/jobs/job-1/output",
    datasetFolder: "/workspace/jobs/job-1/dataset",
    triggerWord,
    steps: 1000,
    learningRate: 1e-4,
    rank: 16,
    resolution: [512],
    batchSize: 1,
    samplePrompts,
    seed: 1,
    saveEvery: 100,
    sampleSize: 512,
  };
}

/** The keys at every depth (values left out): the document's structure. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  }
  return typeof value;
}

describe("a template that cannot be used is refused with its file and line", () => {
  let dir: string;
  let good: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bad-templates-"));
    good = await readFile(join(configsDir, "flux-lora-24gb.yml"), "utf8");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes `text` as the only template of a fresh folder and loads it; returns the error. */
  async function refusal(text: string, file = "broken.yml"): Promise<TemplateFileError> {
    const folder = await mkdtemp(join(dir, "case-"));
    await writeFile(join(folder, file), text);
    try {
      loadTemplates(folder);
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateFileError);
      return error as TemplateFileError;
    }
    throw new Error("the template was accepted");
  }

  /** The 1-based line of the first line of `text` containing `needle`. */
  function lineOf(text: string, needle: string, from = 0): number {
    const at = text.indexOf(needle, from);
    if (at < 0) throw new Error(`no ${needle}`);
    return text.slice(0, at).split("\n").length;
  }

  it("the unchanged file is accepted (the cases below differ from it in one place)", async () => {
    const folder = await mkdtemp(join(dir, "ok-"));
    await writeFile(join(folder, "fine.yml"), good);
    expect([...loadTemplates(folder).keys()]).toEqual(["fine"]);
  });

  it("an unknown placeholder", async () => {
    const text = good.replace("steps: !param steps", "steps: !param stepz");
    const error = await refusal(text);
    expect(error.file).toMatch(/broken\.yml$/);
    expect(error.line).toBe(lineOf(text, "!param stepz"));
    expect(error.message).toMatch(/broken\.yml:\d+: unknown placeholder !param stepz/);
  });

  it("a required key missing from the ai-toolkit config: the line of the object that lacks it", async () => {
    const text = good.replace(/\n {6}train:\n(?: {8}.*\n)+/, "\n");
    expect(text).not.toContain("train:\n");
    const error = await refusal(text);
    expect(error.line).toBe(lineOf(text, "- type: sd_trainer"));
    expect(error.problem).toMatch(/ai-toolkit config: config\.process\.0\.train/);
  });

  it("a value of the wrong type, literal or placeholder", async () => {
    const literal = good.replace("noise_scheduler: flowmatch", "noise_scheduler: ddpm");
    expect((await refusal(literal)).line).toBe(lineOf(literal, "noise_scheduler: ddpm"));
    const placeholder = good.replace("steps: !param steps", "steps: !param triggerWord");
    const error = await refusal(placeholder);
    expect(error.line).toBe(lineOf(placeholder, "steps: !param triggerWord"));
    expect(error.problem).toMatch(/config\.process\.0\.train\.steps/);
  });

  it("a YAML syntax error, a duplicate key, a placeholder on a list", async () => {
    const syntax = good.replace("        dtype: float16\n", "        dtype: float16\n       bad indent: 1\n");
    expect((await refusal(syntax)).line).toBe(lineOf(syntax, "bad indent"));
    const duplicate = good.replace(
      "        dtype: float16\n",
      "        dtype: float16\n        dtype: bf16\n",
    );
    expect((await refusal(duplicate)).line).toBe(lineOf(duplicate, "dtype: bf16"));
    const onList = good.replace("prompts: !param samplePrompts", "prompts: !param [samplePrompts]");
    expect((await refusal(onList)).line).toBe(lineOf(onList, "!param [samplePrompts]"));
  });

  it("a header that breaks its schema", async () => {
    const noCuda = good.replace("  minCudaVersion: 13.0\n", "");
    const error = await refusal(noCuda);
    expect(error.line).toBe(lineOf(noCuda, "host:"));
    expect(error.problem).toMatch(/header: host\.minCudaVersion/);
    const typo = good.replace("  gpuCount: 1\n", "  gpuCount: 1\n  gpuCuont: 2\n");
    expect((await refusal(typo)).problem).toMatch(/gpuCuont/);
    const image = good.replace("ref: ostris/aitoolkit:0.13.18", "ref: 'ostris/aitoolkit; reboot'");
    expect((await refusal(image)).line).toBe(lineOf(image, "ref: 'ostris"));
    const relative = good.replace("toolkitDir: /app/ai-toolkit", "toolkitDir: app/ai-toolkit");
    expect((await refusal(relative)).line).toBe(lineOf(relative, "toolkitDir: app"));
  });

  it("a config training another model than the header names", async () => {
    const other = good.replace(
      "        name_or_path: black-forest-labs/FLUX.1-dev",
      "        name_or_path: black-forest-labs/FLUX.1-schnell",
    );
    const error = await refusal(other);
    expect(error.line).toBe(lineOf(other, "FLUX.1-schnell"));
    expect(error.problem).toMatch(/model\.id/);
  });

  it("one document instead of two, a .yaml file, a bad file name, an empty folder", async () => {
    const configOnly = good.slice(good.indexOf("---\n") + 4);
    expect((await refusal(configOnly)).problem).toMatch(/two YAML documents/);
    expect((await refusal(good, "flux.yaml")).problem).toMatch(/\.yml/);
    expect((await refusal(good, "Flux_LoRA.yml")).problem).toMatch(/file name is its name/);
    const empty = await mkdtemp(join(dir, "empty-"));
    expect(() => loadTemplates(empty)).toThrow(/no training templates/);
  });
});

describe("training requests and rendering", () => {
  it.each(TrainingTemplateNameSchema.options)(
    "%s renders a valid ai-toolkit config from the job paths",
    (template) => {
      const request = parseTrainingRequest({
        template,
        params: { ...base.params, steps: 1500, rank: 32, seed: 7 },
      });
      const { yaml, config } = renderTrainingConfig(request, {
        jobId: "job-123",
        workspaceRoot: "/workspace",
      });
      const reparsed = AiToolkitConfigSchema.parse(parse(yaml));
      expect(reparsed).toEqual(config);
      expect(reparsed.job).toBe("extension");
      expect(reparsed.config.name).toBe("job-123");
      const [p] = reparsed.config.process;
      expect(p?.type).toBe("sd_trainer");
      expect(p?.training_folder).toBe("/workspace/jobs/job-123/output");
      expect(p?.trigger_word).toBe("sks_person");
      expect(p?.network).toEqual({ type: "lora", linear: 32, linear_alpha: 32 });
      expect(p?.datasets[0]).toMatchObject({
        folder_path: "/workspace/jobs/job-123/dataset",
        caption_ext: "txt",
      });
      expect(p?.train).toMatchObject({ steps: 1500, lr: 1e-4, batch_size: 1, gradient_checkpointing: true });
      expect(p?.model).toMatchObject({ name_or_path: FLUX_DEV, is_flux: true, quantize: true });
      expect(p?.sample.seed).toBe(7);
      expect(p?.sample.prompts).toEqual(["a photo of sks_person"]);
      expect(p?.save.save_every).toBeLessThanOrEqual(1500);
    },
  );

  it("24gb keeps the requested resolutions and EMA; low-vram trades them for memory", () => {
    const params = { ...base.params, resolution: [512, 768, 1024], batchSize: 4 };
    const big = renderTrainingConfig(parseTrainingRequest({ template: "flux-lora-24gb", params }), {
      jobId: "j",
    });
    const small = renderTrainingConfig(parseTrainingRequest({ template: "flux-lora-low-vram", params }), {
      jobId: "j",
    });
    const b = big.config.config.process[0]!;
    const s = small.config.config.process[0]!;
    expect(b.datasets[0]?.resolution).toEqual([512, 768, 1024]);
    expect(s.datasets[0]?.resolution).toEqual([512, 768]);
    expect(b.train.ema_config?.use_ema).toBe(true);
    expect(s.train.ema_config).toBeUndefined();
    expect(s.model).toMatchObject({ quantize: true, quantize_te: true, low_vram: true });
    expect(b.model.low_vram).toBeUndefined();
    expect(s.train.batch_size).toBe(2);
    expect(b.train.batch_size).toBe(4);
    expect(s.sample.width).toBe(768);
    const only1024 = renderTrainingConfig(
      parseTrainingRequest({
        template: "flux-lora-low-vram",
        params: { ...base.params, resolution: [1024] },
      }),
      { jobId: "j" },
    );
    expect(only1024.config.config.process[0]?.datasets[0]?.resolution).toEqual([512]);
  });

  it("derives paths from the workspace root and refuses unsafe job ids", () => {
    const request = parseTrainingRequest(base);
    const { config } = renderTrainingConfig(request, { jobId: "j1", workspaceRoot: "/tmp/ws/" });
    expect(config.config.process[0]?.training_folder).toBe("/tmp/ws/jobs/j1/output");
    expect(() => renderTrainingConfig(request, { jobId: "../etc" })).toThrow(/job id/);
    expect(() => renderTrainingConfig(request, { jobId: "j", workspaceRoot: "relative" })).toThrow(
      /absolute/,
    );
  });

  it("re-checks the parameters of a stored request when rendering", () => {
    expect(() =>
      renderTrainingConfig(
        { template: "flux-lora-24gb", params: { triggerWord: "x\n  evil: 1" } },
        { jobId: "j" },
      ),
    ).toThrow(/trigger word may contain only/);
    expect(() => renderTrainingConfig({ template: "gone", params: base.params }, { jobId: "j" })).toThrow(
      UnknownTemplateError,
    );
  });

  it.each([
    [{ params: { triggerWord: "x", steps: 50 } }, /params\.steps/],
    [{ params: { triggerWord: "x", learningRate: 0.5 } }, /params\.learningRate/],
    [{ params: { triggerWord: "x", rank: 0 } }, /params\.rank/],
    [{ params: { triggerWord: "x", resolution: [640] } }, /params\.resolution/],
    [{ params: { triggerWord: "x", batchSize: 64 } }, /params\.batchSize/],
    [{ params: { triggerWord: "x; rm -rf /" } }, /params\.triggerWord: trigger word may contain only/],
    [{ params: { triggerWord: "x", samplePrompts: ["line\nbreak"] } }, /params\.samplePrompts\.0/],
    [{ params: { triggerWord: "x", unknownKnob: 1 } }, /unknownKnob/],
    [
      { template: "sdxl-lora", params: { triggerWord: "x" } },
      /template: Invalid option: expected one of "flux-lora-24gb"\|"flux-lora-low-vram"/,
    ],
    [{ params: {} }, /params\.triggerWord/],
  ])("rejects %j with a clear message", (input, message) => {
    const error = (() => {
      try {
        parseTrainingRequest(input);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TrainingParamsError);
    expect((error as Error).message).toMatch(/^invalid training request: /);
    expect((error as Error).message).toMatch(message);
  });

  it("the placeholders are documented in configs/README.md", async () => {
    const readme = await readFile(join(configsDir, "README.md"), "utf8");
    for (const name of TEMPLATE_PARAMETERS) expect(readme).toContain(`\`${name}\``);
  });
});

describe("what a template needs", () => {
  it.each(TrainingTemplateNameSchema.options)("%s: disk needs, a copy of the template's", (template) => {
    const needs = templateDiskNeeds(parseTrainingRequest({ template, params: base.params }));
    expect(needs).toEqual({ modelCacheGb: 34, outputsReserveGb: 4 });
    needs.modelCacheGb = 1;
    expect(templateFor({ template }).host.modelCacheGb).toBe(34);
  });

  it("a gated model needs a token; only its instances get it", () => {
    const flux = templateFor({ template: "flux-lora-24gb" });
    expect(() => assertModelAccess(flux, undefined)).toThrow(GatedModelWithoutTokenError);
    expect(() => assertModelAccess(flux, "")).toThrow(/gated model on Hugging Face/);
    expect(() => assertModelAccess(flux, "hf_token_value")).not.toThrow();
    expect(instanceEnvironment(flux, "hf_token_value")).toEqual({ HF_TOKEN: "hf_token_value" });
    expect(instanceEnvironment(flux, undefined)).toEqual({});
    const open = { ...flux, model: { ...flux.model, gated: false } };
    expect(() => assertModelAccess(open, undefined)).not.toThrow();
    expect(instanceEnvironment(open, "hf_token_value")).toEqual({});
  });
});
