/**
 * The GPU models the generated marketplace offers, with Vast's real spellings and the VRAM
 * values Vast reports (MiB-looking numbers such as 24564), and plausible price bands.
 */
export interface GpuModel {
  name: string;
  /** `gpu_ram` per GPU as Vast reports it. */
  ramValues: readonly number[];
  /** On-demand `dph_base` per GPU, $/h. */
  pricePerGpu: readonly [number, number];
  computeCap: number;
  arch: string;
  tflops: number;
  dlperf: number;
  memBw: number;
  maxPower: number;
  /** Relative frequency on the marketplace. */
  weight: number;
  counts: readonly number[];
}

export const GPU_MODELS: readonly GpuModel[] = [
  {
    name: "RTX 4090",
    ramValues: [24564, 24576],
    pricePerGpu: [0.25, 0.6],
    computeCap: 890,
    arch: "nvidia",
    tflops: 82.6,
    dlperf: 46,
    memBw: 1008,
    maxPower: 450,
    weight: 30,
    counts: [1, 1, 2, 4, 8],
  },
  {
    name: "RTX 3090",
    ramValues: [24576, 24268],
    pricePerGpu: [0.12, 0.3],
    computeCap: 860,
    arch: "nvidia",
    tflops: 35.6,
    dlperf: 23,
    memBw: 936,
    maxPower: 350,
    weight: 22,
    counts: [1, 1, 2, 4, 8],
  },
  {
    name: "A100 SXM4",
    ramValues: [81920, 40960],
    pricePerGpu: [0.8, 1.5],
    computeCap: 800,
    arch: "nvidia",
    tflops: 19.5,
    dlperf: 70,
    memBw: 2039,
    maxPower: 400,
    weight: 8,
    counts: [1, 2, 4, 8],
  },
  {
    name: "A100 PCIE",
    ramValues: [40960, 81920],
    pricePerGpu: [0.6, 1.2],
    computeCap: 800,
    arch: "nvidia",
    tflops: 19.5,
    dlperf: 60,
    memBw: 1555,
    maxPower: 250,
    weight: 6,
    counts: [1, 2, 4],
  },
  {
    name: "H100 SXM",
    ramValues: [81559, 81920],
    pricePerGpu: [1.6, 2.8],
    computeCap: 900,
    arch: "nvidia",
    tflops: 66.9,
    dlperf: 130,
    memBw: 3352,
    maxPower: 700,
    weight: 8,
    counts: [1, 2, 4, 8],
  },
  {
    name: "RTX A6000",
    ramValues: [49140, 49152],
    pricePerGpu: [0.35, 0.6],
    computeCap: 860,
    arch: "nvidia",
    tflops: 38.7,
    dlperf: 28,
    memBw: 768,
    maxPower: 300,
    weight: 9,
    counts: [1, 2, 4, 8],
  },
  {
    name: "L40S",
    ramValues: [46068, 49140],
    pricePerGpu: [0.5, 0.9],
    computeCap: 890,
    arch: "nvidia",
    tflops: 91.6,
    dlperf: 52,
    memBw: 864,
    maxPower: 350,
    weight: 7,
    counts: [1, 2, 4, 8],
  },
  {
    name: "RTX 6000Ada",
    ramValues: [49140, 49152],
    pricePerGpu: [0.6, 0.95],
    computeCap: 890,
    arch: "nvidia",
    tflops: 91.1,
    dlperf: 50,
    memBw: 960,
    maxPower: 300,
    weight: 6,
    counts: [1, 2, 4, 8],
  },
  {
    name: "RTX 4090D",
    ramValues: [24564],
    pricePerGpu: [0.22, 0.4],
    computeCap: 890,
    arch: "nvidia",
    tflops: 73.5,
    dlperf: 41,
    memBw: 1008,
    maxPower: 425,
    weight: 2,
    counts: [1, 2],
  },
];

/** Vast's free-text `geolocation` with the nullable `country_code` the API adds. */
export const LOCATIONS: readonly {
  geolocation: string | null;
  countryCode: string | null;
  weight: number;
}[] = [
  { geolocation: "Washington, US", countryCode: "US", weight: 5 },
  { geolocation: "California, United States", countryCode: "US", weight: 6 },
  { geolocation: "Texas, US", countryCode: "US", weight: 4 },
  { geolocation: ", US", countryCode: "US", weight: 3 },
  { geolocation: "Quebec, CA", countryCode: "CA", weight: 3 },
  { geolocation: "Ontario, Canada", countryCode: "CA", weight: 2 },
  { geolocation: "Shinjuku, Tokyo, JP", countryCode: "JP", weight: 2 },
  { geolocation: "Bavaria, DE", countryCode: "DE", weight: 3 },
  { geolocation: "North Holland, NL", countryCode: "NL", weight: 2 },
  { geolocation: "Stockholm County, SE", countryCode: "SE", weight: 2 },
  { geolocation: "Oslo, Norway", countryCode: "NO", weight: 1 },
  { geolocation: "Prague, CZ", countryCode: "CZ", weight: 1 },
  { geolocation: "England, GB", countryCode: "GB", weight: 2 },
  { geolocation: "Taipei, TW", countryCode: "TW", weight: 1 },
  { geolocation: "New South Wales, AU", countryCode: "AU", weight: 1 },
  { geolocation: "Hong Kong", countryCode: null, weight: 1 },
  { geolocation: null, countryCode: null, weight: 2 },
];

export function pickWeighted<T extends { weight: number }>(items: readonly T[], r: number): T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let acc = r * total;
  for (const item of items) {
    acc -= item.weight;
    if (acc < 0) return item;
  }
  return items[items.length - 1]!;
}
