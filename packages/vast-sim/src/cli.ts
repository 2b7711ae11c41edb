/**
 * `npm run sim -- --port 7070 --seed 1 --time-scale 60`: runs the simulator until Ctrl-C and
 * prints its URL and API key.
 */
import { parseArgs } from "node:util";
import { describeConfinement, startVastSim } from "./server";

const HELP = `vast-sim: a Vast.ai simulator
  --port N              listen port (default 7070; 0 = any)
  --host H              listen host (default 127.0.0.1)
  --seed N              marketplace seed (default 1)
  --time-scale X        simulated seconds per real second (default 1)
  --provisioning S      simulated seconds before loading (default 5)
  --loading S           simulated seconds of loading (default 20)
  --training-seconds S  simulated seconds every instance's training takes (default 120)
  --ai-toolkit-dir DIR  where instances find ai-toolkit's run.py stand-in; repeat for several
                        (default /workspace/ai-toolkit and /app/ai-toolkit)
  --api-key KEY         account API key (default: random)
  --no-ssh              do not start per-instance SSH servers
  --unsafe-no-sandbox   run instance commands UNCONFINED on this machine (only where bubblewrap
                        cannot be installed; a command sent to an instance can change this machine)
  --rate-limits         enforce Vast's per-endpoint rate limits
  --data-dir DIR        instance folders (default: a temp folder)
  --webhook-url URL --webhook-secret S   deliver signed notification webhooks`;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "7070" },
    host: { type: "string", default: "127.0.0.1" },
    seed: { type: "string", default: "1" },
    "time-scale": { type: "string", default: "1" },
    provisioning: { type: "string" },
    loading: { type: "string" },
    "training-seconds": { type: "string" },
    "ai-toolkit-dir": { type: "string", multiple: true },
    "api-key": { type: "string" },
    "no-ssh": { type: "boolean", default: false },
    "unsafe-no-sandbox": { type: "boolean", default: false },
    "rate-limits": { type: "boolean", default: false },
    "data-dir": { type: "string" },
    "webhook-url": { type: "string" },
    "webhook-secret": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const num = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) {
    console.error(`--${name} must be a number`);
    process.exit(2);
  }
  return n;
};

const sim = await startVastSim({
  unsafeNoSandbox: values["unsafe-no-sandbox"],
  port: num("port", values.port),
  host: values.host,
  seed: num("seed", values.seed),
  timeScale: num("time-scale", values["time-scale"]),
  delays: {
    ...(values.provisioning ? { provisioningSeconds: num("provisioning", values.provisioning) } : {}),
    ...(values.loading ? { loadingSeconds: num("loading", values.loading) } : {}),
  },
  ...(values["training-seconds"]
    ? { trainingSeconds: num("training-seconds", values["training-seconds"]) }
    : {}),
  ...(values["ai-toolkit-dir"] ? { aiToolkitDirs: values["ai-toolkit-dir"] } : {}),
  ...(values["api-key"] ? { apiKey: values["api-key"] } : {}),
  ssh: !values["no-ssh"],
  rateLimits: values["rate-limits"],
  ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
  ...(values["webhook-url"] && values["webhook-secret"]
    ? { webhook: { url: values["webhook-url"], secret: values["webhook-secret"] } }
    : {}),
}).catch((error: unknown) => {
  // e.g. no bubblewrap: one line saying what to install, not a stack trace.
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});

console.log(`vast-sim listening on ${sim.url}`);
console.log(`API key: ${sim.apiKey}`);
console.log(`Instances: ${describeConfinement(sim.confinement)}`);
console.log(`Vast CLI: VAST_URL=${sim.url} vastai --api-key ${sim.apiKey} search offers`);
console.log(`Admin:   curl -H "Authorization: Bearer ${sim.apiKey}" ${sim.url}/_sim/instances`);

const shutdown = async () => {
  await sim.close();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
