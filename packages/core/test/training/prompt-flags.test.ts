/**
 * ai-toolkit reads `--w`, `--h`, `--steps`... inside sample prompts (it splits each prompt on
 * `--`); intake refuses anything that would reach that parser as a flag.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  hasInlineFlag,
  parseTrainingRequest,
  renderTrainingConfig,
  TrainingParamsError,
} from "../../src/training";

const PROMPT_MESSAGE =
  "sample prompts may not contain '--' flags (ai-toolkit reads --w, --h, --steps... inside prompts)";

function refusal(params: Record<string, unknown>): string | null {
  try {
    parseTrainingRequest({ params: { triggerWord: "sks", ...params } });
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(TrainingParamsError);
    return (error as Error).message;
  }
}

describe("sample prompts", () => {
  it.each([
    "a cat --w 8192 --h 8192 --steps 1000",
    "a cat --steps 1000",
    "--cfg 30 a cat",
    "a cat --n blurry",
    "ends with --",
    "a--b",
    // Fullwidth and small hyphen-minus fold to '-' under NFKC.
    "a cat －－w 8192",
    "a cat ﹣﹣steps 1000",
  ])("refuses %j", (prompt) => {
    expect(refusal({ samplePrompts: ["a fine prompt", prompt] })).toBe(
      `invalid training request: params.samplePrompts.1: ${PROMPT_MESSAGE}`,
    );
  });

  it.each([
    "a well-lit photo of sks, 35-mm film",
    "sks at dusk — watercolour",
    "sks, 1990–2000 style",
    "a - b - c",
    "- [trigger] -",
    "a photo of [trigger]-style",
  ])("accepts %j (single hyphens, long dashes)", (prompt) => {
    expect(refusal({ samplePrompts: [prompt] })).toBeNull();
  });
});

describe("trigger words", () => {
  it.each(["my--cat", "-cat", "cat-", "--w"])("refuses %j", (triggerWord) => {
    expect(refusal({ triggerWord })).toMatch(
      /^invalid training request: params\.triggerWord: trigger word may not contain '--' or start or end with '-' \(ai-toolkit reads --w, --h, --steps\.\.\. inside prompts, and the trigger word is put into them\)$/,
    );
  });

  it.each(["my-cat", "sks_person", "a-b-c"])("accepts %j", (triggerWord) => {
    expect(refusal({ triggerWord })).toBeNull();
  });
});

/**
 * What ai-toolkit does before reading flags: `inject_trigger_into_prompt` (toolkit/prompt_utils.py)
 * replaces `[trigger]` and `[name]` with the trigger word, or prepends it and a space.
 */
function injectTrigger(prompt: string, trigger: string): string {
  let out = prompt;
  for (const token of ["[name]", "[trigger]"]) out = out.split(token).join(trigger);
  return out.includes(trigger) ? out : `${trigger} ${out}`;
}

describe("no accepted request reaches ai-toolkit with a flag (fast-check, seeded)", () => {
  it("after the trigger word is put in, no prompt holds '--'", () => {
    const piece = fc.constantFrom("-", "-", "a", " ", "[trigger]", "[name]", "—", "–", "－", "_", "[", "]");
    const prompt = fc.array(piece, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(""));
    const trigger = fc
      .array(fc.constantFrom("a", "b", "-", "_"), { minLength: 1, maxLength: 6 })
      .map((parts) => parts.join(""));
    let accepted = 0;
    fc.assert(
      fc.property(trigger, fc.array(prompt, { minLength: 1, maxLength: 3 }), (triggerWord, samplePrompts) => {
        let request: ReturnType<typeof parseTrainingRequest>;
        try {
          request = parseTrainingRequest({ params: { triggerWord, samplePrompts } });
        } catch {
          return;
        }
        accepted++;
        const { config } = renderTrainingConfig(request, { jobId: "j" });
        for (const rendered of config.config.process[0]?.sample.prompts ?? []) {
          expect(injectTrigger(rendered, request.params.triggerWord).split("--")).toHaveLength(1);
        }
      }),
      { seed: 20260915, numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(200);
  });

  it("hasInlineFlag is the ASCII pair after compatibility folding, and nothing else", () => {
    expect(hasInlineFlag("--")).toBe(true);
    expect(hasInlineFlag("－-")).toBe(true);
    expect(hasInlineFlag("—")).toBe(false);
    expect(hasInlineFlag("– –")).toBe(false);
    expect(hasInlineFlag("- -")).toBe(false);
  });
});
