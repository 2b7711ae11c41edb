import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  AiToolkitConfigSchema,
  FLUX_DEV_MODEL,
  parseTrainingRequest,
  renderTrainingConfig,
  TRAINING_TEMPLATE_DISK,
  TrainingParamsError,
  TrainingTemplateNameSchema,
  templateDiskNeeds,
} from "../../src/training";

const base = { params: { triggerWord: "sks_person" } };

describe("training templates", () => {
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
      expect(p?.model).toMatchObject({ name_or_path: FLUX_DEV_MODEL, is_flux: true, quantize: true });
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

  it("sample prompts with quotes and YAML syntax stay plain strings", () => {
    const prompts = ['sks_person: "hello" # not a comment', "- [x] {y} & *z", "multi 'quote'"];
    const { yaml } = renderTrainingConfig(
      parseTrainingRequest({ params: { ...base.params, samplePrompts: prompts } }),
      {
        jobId: "j",
      },
    );
    expect(parse(yaml).config.process[0].sample.prompts).toEqual(prompts);
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

  it.each([
    [{ params: { triggerWord: "x", steps: 50 } }, /params\.steps/],
    [{ params: { triggerWord: "x", learningRate: 0.5 } }, /params\.learningRate/],
    [{ params: { triggerWord: "x", rank: 0 } }, /params\.rank/],
    [{ params: { triggerWord: "x", resolution: [640] } }, /params\.resolution/],
    [{ params: { triggerWord: "x", batchSize: 64 } }, /params\.batchSize/],
    [{ params: { triggerWord: "x; rm -rf /" } }, /params\.triggerWord: trigger word may contain only/],
    [{ params: { triggerWord: "x", samplePrompts: ["line\nbreak"] } }, /params\.samplePrompts\.0/],
    [{ params: { triggerWord: "x", unknownKnob: 1 } }, /unknownKnob/],
    [{ template: "sdxl-lora", params: { triggerWord: "x" } }, /template/],
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
});

describe("template disk needs", () => {
  it.each(TrainingTemplateNameSchema.options)(
    "%s declares its model cache and outputs reserve",
    (template) => {
      // FLUX.1-dev in diffusers format: transformer 23.8 + T5-XXL 9.5 + CLIP 0.25 + VAE 0.17 GB, rounded up.
      expect(TRAINING_TEMPLATE_DISK[template]).toEqual({ modelCacheGb: 34, outputsReserveGb: 4 });
      const needs = templateDiskNeeds(parseTrainingRequest({ template, params: base.params }));
      expect(needs).toEqual(TRAINING_TEMPLATE_DISK[template]);
      // A copy: callers cannot change the table.
      needs.modelCacheGb = 1;
      expect(TRAINING_TEMPLATE_DISK[template].modelCacheGb).toBe(34);
    },
  );
});
