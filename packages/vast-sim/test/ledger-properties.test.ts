/**
 * Money invariants of the ledger under random scripts of lifecycle actions: charges never go
 * down, the GPU is billed exactly for the time spent `running`, storage for the whole life, and
 * the total is the sum of its parts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { startVastSim } from "../src/index";
import { client, offersOf } from "./helpers";

const action = fc.oneof(
  fc.record({ kind: fc.constant("advance" as const), seconds: fc.integer({ min: 1, max: 5000 }) }),
  fc.record({
    kind: fc.constantFrom(
      "stop" as const,
      "start" as const,
      "outbid" as const,
      "offline" as const,
      "online" as const,
    ),
  }),
);

describe("ledger invariants", () => {
  it("holds for random lifecycle scripts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(action, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 8, max: 500 }),
        async (script, disk) => {
          const sim = await startVastSim({
            ssh: false,
            timeScale: 0,
            seed: 99,
            delays: { provisioningSeconds: 7, loadingSeconds: 13 },
          });
          try {
            const v = client(sim);
            const offer = offersOf(await v.search({ order: [["dph_total", "asc"]], limit: 1 }))[0]!;
            const id = (await v.create(offer.id, { image: "img", disk })).json.new_contract as number;
            let last = sim.admin.ledger().total.totalMicros;
            for (const step of script) {
              if (step.kind === "advance") sim.admin.advance(step.seconds);
              else if (step.kind === "stop") await v.manage(id, { state: "stopped" });
              else if (step.kind === "start") await v.manage(id, { state: "running" });
              else if (step.kind === "outbid") await sim.admin.addFault({ kind: "outbid", instanceId: id });
              else
                await sim.admin.addFault({
                  kind: "offline",
                  instanceId: id,
                  offline: step.kind === "offline",
                });
              const now = sim.admin.ledger().total.totalMicros;
              expect(now).toBeGreaterThanOrEqual(last);
              last = now;
            }
            const inst = sim.admin.instance(id)!;
            const l = inst.ledger;
            // Running time recomputed independently from the history.
            let running = 0;
            inst.history.forEach((h, i) => {
              if (h.actual_status === "running")
                running += (inst.history[i + 1]?.atMs ?? sim.admin.now()) - h.atMs;
            });
            expect(l.runningSeconds).toBe(running / 1000);
            expect(l.runningSeconds).toBeLessThanOrEqual(l.storageSeconds);
            expect(l.storageSeconds).toBe((sim.admin.now() - inst.createdAtMs) / 1000);
            expect(l.gpuMicros).toBe(Math.round((running / 3_600_000) * (offer.dph_base as number) * 1e6));
            expect(l.storageMicros).toBe(
              Math.round(
                ((sim.admin.now() - inst.createdAtMs) / 3_600_000) *
                  (((offer.storage_cost as number) * disk) / 720) *
                  1e6,
              ),
            );
            expect(l.totalMicros).toBe(l.gpuMicros + l.storageMicros + l.bandwidthMicros);
          } finally {
            await sim.close();
          }
        },
      ),
      { numRuns: 40, seed: 20261128 },
    );
  });
});
