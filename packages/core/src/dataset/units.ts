/** Byte counts in messages meant for people: decimal units, as disk sizes are sold (and Vast lists them). */

const UNITS = ["kB", "MB", "GB", "TB"] as const;

/** `999 B`, `1.5 kB`, `510.0 MB`, `31.2 GB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes;
  let unit = "B";
  for (const next of UNITS) {
    if (value < 999.95) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

export const BYTES_PER_GB = 1e9;
