/**
 * GPU names as Vast spells them in `gpu_name`, and the aliases people type. Lookup ignores
 * case, spaces, hyphens and underscores, so `4090`, `rtx_4090` and `RTX-4090` all resolve to
 * "RTX 4090", and a family alias such as `A100` resolves to every A100 variant.
 */

/** Real `gpu_name` values (vast-python `gpu_names_cache.json` and the marketplace). */
export const VAST_GPU_NAMES = [
  "RTX 5090",
  "RTX 5080",
  "RTX 4090",
  "RTX 4090D",
  "RTX 4080",
  "RTX 4080S",
  "RTX 4070",
  "RTX 4070S",
  "RTX 4070 Ti",
  "RTX 4070S Ti",
  "RTX 4060 Ti",
  "RTX 3090",
  "RTX 3090 Ti",
  "RTX 3080",
  "RTX 3080 Ti",
  "RTX 3070",
  "RTX 3060",
  "RTX 3060 laptop",
  "RTX 2080 Ti",
  "GTX 1080 Ti",
  "GTX 1660 S",
  "RTX A4000",
  "RTX A4500",
  "RTX A5000",
  "RTX A6000",
  "RTX 6000Ada",
  "RTX 5000Ada",
  "RTX 4000Ada",
  "RTX PRO 6000",
  "Q RTX 8000",
  "Q RTX 6000",
  "A2",
  "A10",
  "A16",
  "A30",
  "A40",
  "A100 PCIE",
  "A100 SXM4",
  "A100X",
  "A800 PCIE",
  "L4",
  "L40",
  "L40S",
  "H100 PCIE",
  "H100 SXM",
  "H100 NVL",
  "H200",
  "H200 NVL",
  "GH200 SXM",
  "B200",
  "Tesla T4",
  "Tesla V100",
  "Tesla P100",
] as const;

/** Aliases beyond the names themselves: a short model number or a family. */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  "5090": ["RTX 5090"],
  "5080": ["RTX 5080"],
  "4090": ["RTX 4090"],
  "4090d": ["RTX 4090D"],
  "4080": ["RTX 4080"],
  "4080s": ["RTX 4080S"],
  "4080super": ["RTX 4080S"],
  "4070": ["RTX 4070"],
  "4070ti": ["RTX 4070 Ti"],
  "3090": ["RTX 3090"],
  "3090ti": ["RTX 3090 Ti"],
  "3080": ["RTX 3080"],
  "3080ti": ["RTX 3080 Ti"],
  "3070": ["RTX 3070"],
  "3060": ["RTX 3060"],
  a4000: ["RTX A4000"],
  a4500: ["RTX A4500"],
  a5000: ["RTX A5000"],
  a6000: ["RTX A6000"],
  "6000ada": ["RTX 6000Ada"],
  rtx6000ada: ["RTX 6000Ada"],
  "5000ada": ["RTX 5000Ada"],
  "4000ada": ["RTX 4000Ada"],
  rtx8000: ["Q RTX 8000"],
  quadrortx8000: ["Q RTX 8000"],
  a100: ["A100 PCIE", "A100 SXM4", "A100X"],
  a100pcie: ["A100 PCIE"],
  a100sxm: ["A100 SXM4"],
  a800: ["A800 PCIE"],
  h100: ["H100 PCIE", "H100 SXM", "H100 NVL"],
  h100sxm5: ["H100 SXM"],
  h200: ["H200", "H200 NVL"],
  gh200: ["GH200 SXM"],
  t4: ["Tesla T4"],
  v100: ["Tesla V100"],
  p100: ["Tesla P100"],
};

/** Lookup key: lower-case with spaces, hyphens and underscores removed. */
export function gpuKey(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, "");
}

const BY_KEY = new Map<string, readonly string[]>();
for (const name of VAST_GPU_NAMES) BY_KEY.set(gpuKey(name), [name]);
for (const [alias, names] of Object.entries(ALIASES)) if (!BY_KEY.has(alias)) BY_KEY.set(alias, names);

/** Every Vast `gpu_name` the user's GPU type stands for; null when it is not a GPU we know. */
export function resolveGpuNames(gpuType: string): readonly string[] | null {
  return BY_KEY.get(gpuKey(gpuType)) ?? null;
}
