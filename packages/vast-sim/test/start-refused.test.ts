/**
 * A simulator start that is refused (bad options, a port already taken) fails promptly and leaves
 * no data folder behind; a started one removes its folder on close. Each test points the temp
 * folder (TMPDIR, which `os.tmpdir()` reads on every call) at a fresh folder it then inspects.
 */

import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startVastSim } from "../src/index";

describe("simulator start and close leave no data folder", () => {
  let scratch: string;
  let previous: string | undefined;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), "sim-start-"));
    previous = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
  });
  afterEach(async () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(scratch, { recursive: true, force: true });
  });

  it("refuses a bad fault profile before creating anything", async () => {
    await expect(startVastSim({ ssh: false, faults: { http5xx: 2 } })).rejects.toThrow();
    expect(await readdir(scratch)).toEqual([]);
  });

  it("fails on a port already taken, and removes the folder it had made", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startVastSim({ ssh: false, port })).rejects.toMatchObject({ code: "EADDRINUSE" });
      expect(await readdir(scratch)).toEqual([]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("removes its folder on close", async () => {
    const sim = await startVastSim({ ssh: false });
    expect((await readdir(scratch)).filter((name) => name.startsWith("vast-sim-"))).toHaveLength(1);
    await sim.close();
    expect(await readdir(scratch)).toEqual([]);
  });
});
