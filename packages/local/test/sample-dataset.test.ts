/**
 * The sample dataset `npm start` trains on: the files shipped in `packages/local/sample-dataset/` are
 * byte for byte what the seeded generator writes (so they cannot drift from it unnoticed), a few dozen
 * images of a few hundred KB in all, each with a caption that uses the trigger word the sample job
 * trains.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { SAMPLE_DATASET_DIR, sampleDatasetFiles } from "../src/sample/generate-dataset";
import { SAMPLE_TRIGGER_WORD, sampleJobRequest } from "../src/sample/job";

const shipped = async () => {
  const names = (await readdir(SAMPLE_DATASET_DIR)).sort();
  return Promise.all(
    names.map(async (name) => ({ name, data: await readFile(join(SAMPLE_DATASET_DIR, name)) })),
  );
};

describe("the sample dataset", () => {
  it("ships exactly what the generator writes", async () => {
    const generated = sampleDatasetFiles();
    const files = await shipped();
    expect(files.map((f) => f.name)).toEqual(generated.map((f) => f.name));
    for (const [i, file] of files.entries()) {
      // Byte equality, one file at a time, so a failure names the file.
      expect(file.data.equals(generated[i]!.data), `${file.name} differs from the generator's`).toBe(true);
    }
  });

  it("is generated the same way every time (seeded)", () => {
    const a = sampleDatasetFiles();
    const b = sampleDatasetFiles();
    expect(a.map((f) => f.name)).toEqual(b.map((f) => f.name));
    expect(a.every((f, i) => f.data.equals(b[i]!.data))).toBe(true);
  });

  it("holds a few dozen distinct images, a few hundred KB in all", async () => {
    const files = await shipped();
    const images = files.filter((f) => f.name.endsWith(".png"));
    expect(images.length).toBeGreaterThanOrEqual(20);
    expect(images.length).toBeLessThanOrEqual(60);
    const total = files.reduce((sum, f) => sum + f.data.length, 0);
    expect(total).toBeGreaterThanOrEqual(100 * 1024);
    expect(total).toBeLessThanOrEqual(1024 * 1024);
    // Real pictures, and not one picture copied.
    const decoded = images.map((f) => PNG.sync.read(f.data));
    for (const png of decoded) expect([png.width, png.height]).toEqual([96, 96]);
    expect(new Set(images.map((f) => f.data.toString("base64"))).size).toBe(images.length);
  });

  it("gives every image a caption that names the trigger word the sample job trains", async () => {
    const files = await shipped();
    const names = new Set(files.map((f) => f.name));
    const images = files.filter((f) => f.name.endsWith(".png"));
    // Nothing but images and their captions.
    expect(files.length).toBe(images.length * 2);
    const word = new RegExp(`\\b${SAMPLE_TRIGGER_WORD}\\b`);
    for (const image of images) {
      const captionName = image.name.replace(/\.png$/, ".txt");
      expect(names.has(captionName), `${image.name} has no caption`).toBe(true);
      const caption = files.find((f) => f.name === captionName)!.data.toString("utf8");
      expect(caption, captionName).toMatch(word);
      expect(caption.trim().split("\n"), captionName).toHaveLength(1);
    }
    expect(sampleJobRequest().training?.params?.triggerWord).toBe(SAMPLE_TRIGGER_WORD);
  });
});
