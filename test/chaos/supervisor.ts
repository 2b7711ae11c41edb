/**
 * Runs the chaos run's function processes and kills them: each slot (`provision-1`, `push-2`,
 * `poller-1`, ...) is a forked process restarted shortly after it dies, whatever killed it — a crash
 * it injected itself between two side effects, an invocation past its timeout, or this supervisor's
 * SIGKILL at a seeded random moment. Messages a dead process held come back after their (compressed)
 * visibility timeout; leases it held lapse; that is the recovery under test.
 */
import { type ChildProcess, fork } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Rng } from "../../packages/vast-sim/src/random";
import type { CalmMessage, FunctionProcessConfig } from "./function-process";

/** A slot's configuration, without what changes per start. */
export type SlotConfig = Omit<FunctionProcessConfig, "incarnation" | "seed" | "forkedAt" | "calmAt">;

export interface SupervisorOptions {
  bundle: string;
  slots: SlotConfig[];
  /** Seeds each start's choices, and the supervisor's own (when to kill whom, restart delays). */
  rng: Rng;
  /** Mean seconds between two kills by the supervisor (exponentially distributed); 0 = none. */
  killMeanSeconds: number;
  /** Where each slot's stdout and stderr go (`<name>.log`). */
  logDir: string;
  /** Extra environment for the processes (log levels); never secrets. */
  env: Record<string, string>;
}

/** How a process ended, as the supervisor saw it. */
export interface ProcessExit {
  name: string;
  /** `killed`: by the supervisor; `signal`: a SIGKILL it sent itself (crash or timeout); `exit`: it exited. */
  cause: "killed" | "signal" | "exit";
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface Supervisor {
  readonly exits: readonly ProcessExit[];
  readonly starts: number;
  /**
   * Closes the fault window at `at` (epoch ms): no SIGKILL from then on, and no process (running or
   * restarted) crashes itself after it. What was killed before still recovers after it.
   */
  calm(at: number): void;
  /** Kills everything and stops restarting. */
  stop(): Promise<void>;
}

interface Slot {
  config: SlotConfig;
  child: ChildProcess | null;
  incarnation: number;
  killedByUs: boolean;
}

export function startSupervisor(options: SupervisorOptions): Supervisor {
  const exits: ProcessExit[] = [];
  let starts = 0;
  let stopping = false;
  let calmAt: number | null = null;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const start = (slot: Slot) => {
    if (stopping) return;
    const log = openSync(join(options.logDir, `${slot.config.name}.log`), "a");
    const forkedAt = Date.now();
    const child = fork(options.bundle, [], {
      // Not this process's flags (tsx's loader): the bundle is plain JavaScript.
      execArgv: [],
      stdio: ["ignore", log, log, "ipc"],
      env: { ...process.env, ...options.env },
      serialization: "json",
    });
    closeSync(log);
    slot.child = child;
    slot.killedByUs = false;
    starts++;
    const config: FunctionProcessConfig = {
      ...slot.config,
      incarnation: slot.incarnation++,
      forkedAt,
      calmAt,
      seed: Math.floor(options.rng.next() * 2 ** 31),
    };
    child.send(config);
    child.once("exit", (code, signal) => {
      if (stopping) return;
      const cause = slot.killedByUs ? "killed" : signal ? "signal" : "exit";
      exits.push({ name: slot.config.name, cause, code, signal, at: Date.now() });
      slot.child = null;
      // A Lambda container that died is replaced by the next invocation: shortly.
      later(200 + options.rng.next() * 800, () => start(slot));
    });
  };

  const slots: Slot[] = options.slots.map((config) => ({
    config,
    child: null,
    incarnation: 0,
    killedByUs: false,
  }));
  for (const slot of slots) start(slot);

  const scheduleKill = () => {
    if (options.killMeanSeconds <= 0 || stopping) return;
    const waitMs = -Math.log(1 - options.rng.next()) * options.killMeanSeconds * 1000;
    later(waitMs, () => {
      if (calmAt !== null && Date.now() >= calmAt) return;
      const alive = slots.filter((s) => s.child);
      const victim = alive[Math.floor(options.rng.next() * alive.length)];
      if (victim?.child) {
        victim.killedByUs = true;
        victim.child.kill("SIGKILL");
      }
      scheduleKill();
    });
  };
  scheduleKill();

  return {
    exits,
    get starts() {
      return starts;
    },
    calm(at) {
      calmAt = at;
      const message: CalmMessage = { calmAt: at };
      for (const slot of slots) {
        // A process dying meanwhile is restarted with `calmAt` in its configuration.
        if (slot.child?.connected) slot.child.send(message, () => {});
      }
    },
    async stop() {
      stopping = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all(
        slots.map(
          (slot) =>
            new Promise<void>((resolve) => {
              const child = slot.child;
              if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once("exit", () => resolve());
              slot.killedByUs = true;
              child.kill("SIGKILL");
            }),
        ),
      );
    },
  };
}
