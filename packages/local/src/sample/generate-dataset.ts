/**
 * The sample dataset `npm start` trains on: small generated pictures of a made-up subject ("ohwx",
 * a round creature in varying colours, sizes and places) with one caption each. Seeded, so the
 * files in `packages/local/sample-dataset/` are exactly what this writes; a test checks that.
 *
 *   npx tsx packages/local/src/sample/generate-dataset.ts   # rewrites the folder
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { SAMPLE_TRIGGER_WORD } from "./job";

/** Where the shipped dataset lives. */
export const SAMPLE_DATASET_DIR = fileURLToPath(new URL("../../sample-dataset/", import.meta.url));

const IMAGE_COUNT = 24;
const SIZE = 96;

const COLOURS = [
  ["orange", [236, 140, 40]],
  ["grey", [128, 128, 136]],
  ["black", [30, 30, 34]],
  ["white", [236, 236, 230]],
  ["ginger", [200, 100, 40]],
  ["cream", [240, 220, 180]],
] as const;
const BACKGROUNDS = [
  ["a blue sofa", [60, 90, 170]],
  ["green grass", [70, 150, 70]],
  ["a wooden floor", [150, 110, 70]],
  ["a red blanket", [170, 50, 50]],
] as const;

/** Mulberry32: small, seeded, good enough for pictures. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface SampleFile {
  name: string;
  data: Buffer;
}

/** Every file of the sample dataset, in name order. */
export function sampleDatasetFiles(): SampleFile[] {
  const random = seeded(20261129);
  const files: SampleFile[] = [];
  for (let i = 0; i < IMAGE_COUNT; i++) {
    const [colourName, colour] = COLOURS[i % COLOURS.length]!;
    const [backgroundName, background] = BACKGROUNDS[Math.floor(random() * BACKGROUNDS.length)]!;
    const radius = 14 + random() * 16;
    const cx = radius + random() * (SIZE - 2 * radius);
    const cy = radius * 1.3 + random() * (SIZE - 2.3 * radius);
    const png = new PNG({ width: SIZE, height: SIZE, colorType: 2 });
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const at = (y * SIZE + x) * 4;
        const d = Math.hypot(x - cx, y - cy);
        // Ears: two small triangles above the body.
        const ear =
          y < cy - radius * 0.6 &&
          y > cy - radius * 1.25 &&
          [-1, 1].some(
            (side) => Math.abs(x - (cx + side * radius * 0.55)) < (y - (cy - radius * 1.25)) * 0.6,
          );
        const inside = d < radius || ear;
        const base = inside ? colour : background;
        const shade = inside ? 1 - (d / radius) * 0.25 : 0.85 + (y / SIZE) * 0.15;
        const grain = (random() - 0.5) * 6;
        for (let c = 0; c < 3; c++) {
          png.data[at + c] = Math.max(0, Math.min(255, Math.round(base[c]! * shade + grain)));
        }
        png.data[at + 3] = 255;
      }
    }
    const stem = `ohwx-${String(i + 1).padStart(2, "0")}`;
    files.push({ name: `${stem}.png`, data: PNG.sync.write(png, { colorType: 2 }) });
    const size = radius > 25 ? "a big" : radius > 19 ? "a" : "a small";
    files.push({
      name: `${stem}.txt`,
      data: Buffer.from(
        `a photo of ${size} ${colourName} ${SAMPLE_TRIGGER_WORD} creature on ${backgroundName}\n`,
      ),
    });
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

async function main(): Promise<void> {
  await mkdir(SAMPLE_DATASET_DIR, { recursive: true });
  for (const name of await readdir(SAMPLE_DATASET_DIR)) await rm(join(SAMPLE_DATASET_DIR, name));
  let bytes = 0;
  for (const file of sampleDatasetFiles()) {
    await writeFile(join(SAMPLE_DATASET_DIR, file.name), file.data);
    bytes += file.data.length;
  }
  console.log(
    `wrote ${IMAGE_COUNT} images with captions (${Math.round(bytes / 1024)} KiB) to ${SAMPLE_DATASET_DIR}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
