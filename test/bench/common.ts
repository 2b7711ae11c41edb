/**
 * What every benchmark shares: medians and percentiles, the command-line flags each one's standalone
 * CLI reads, and the check that a file was run as a script rather than imported by the runner.
 */
import { pathToFileURL } from "node:url";

/** Where a benchmark says what it is doing (stderr by default, so stdout stays the result). */
export type BenchLog = (line: string) => void;

export const stderrLog: BenchLog = (line) => console.error(line);

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100): with few samples, p95 is the largest but rarely. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** True when the module at `importMetaUrl` is the script node was started with. */
export function isMain(importMetaUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && importMetaUrl === pathToFileURL(script).href;
}

/** `--name value` flags, read by name; every flag must be known (a typo is an error, not a default). */
export class Flags {
  private readonly values = new Map<string, string | true>();

  constructor(argv: readonly string[], known: { values: readonly string[]; switches?: readonly string[] }) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] as string;
      const name = arg.replace(/^--/, "");
      if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`);
      if (known.switches?.includes(name)) {
        this.values.set(name, true);
      } else if (known.values.includes(name)) {
        const value = argv[++i];
        if (value === undefined) throw new Error(`${arg} needs a value`);
        this.values.set(name, value);
      } else {
        throw new Error(`unknown option ${arg}`);
      }
    }
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  string(name: string): string | undefined {
    const value = this.values.get(name);
    return typeof value === "string" ? value : undefined;
  }

  number(name: string): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number, got ${value}`);
    return n;
  }

  numbers(name: string): number[] | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    return value.split(",").map((part) => {
      const n = Number(part);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs non-negative numbers, got ${value}`);
      return n;
    });
  }
}

/** One call an AWS SDK v3 client made (retries are separate calls: counted at the `finalizeRequest` step). */
export interface AwsCall {
  command: string;
  start: number;
  end: number;
}

/**
 * Records every request an AWS SDK v3 client sends, through its middleware stack: the command's
 * name and when it started and ended (`Date.now()`). A retry is a second record.
 */
export function recordAwsCalls(
  client: { middlewareStack: { add: (...args: never[]) => void } },
  onCall: (call: AwsCall) => void,
  name = "bench-call-recorder",
): void {
  const add = client.middlewareStack.add as unknown as (
    mw: (
      next: (args: unknown) => Promise<unknown>,
      context: { commandName?: string },
    ) => (args: unknown) => Promise<unknown>,
    options: { step: "finalizeRequest"; name: string },
  ) => void;
  add(
    (next, context) => async (args) => {
      const start = Date.now();
      try {
        return await next(args);
      } finally {
        onCall({ command: context.commandName ?? "unknown", start, end: Date.now() });
      }
    },
    { step: "finalizeRequest", name },
  );
}

/** Counts by key, e.g. calls by command name. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}
