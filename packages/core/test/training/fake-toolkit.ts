/**
 * A stand-in for ai-toolkit's `run.py` on the test sshd: reads the rendered config, prints
 * tqdm-style progress, and writes `<training_folder>/<name>/<name>.safetensors`. The trigger
 * word picks the behaviour: `fail_*` exits 1 with a CUDA OOM traceback, `slow_*` waits for a
 * `release` file in the job folder before finishing.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

const RUN_PY = String.raw`import os, re, sys, time, random
config = open(sys.argv[1]).read()
def field(name):
    return re.search(r"^\s*" + name + r":\s*(\S+)", config, re.M).group(1).strip('"')
name = field("name")
folder = field("training_folder")
trigger = field("trigger_word")
steps = 10
jobdir = os.path.dirname(sys.argv[1])
print("Loading model black-forest-labs/FLUX.1-dev", flush=True)
for step in range(1, steps + 1):
    sys.stdout.write("\r%s:  %d%%|##   | %d/%d [00:0%d<00:00, 9.9it/s, lr: 1e-04 loss: 4.2e-01]" % (name, step * 10, step, steps, step % 10))
    sys.stdout.flush()
    time.sleep(0.02)
    if trigger.startswith("fail") and step == 4:
        print("\nTraceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        sys.exit(1)
if trigger.startswith("slow"):
    while not os.path.exists(os.path.join(jobdir, "release")):
        time.sleep(0.05)
out = os.path.join(folder, name)
os.makedirs(out, exist_ok=True)
rng = random.Random(name)
with open(os.path.join(out, name + "_000000005.safetensors"), "wb") as f:
    f.write(b"checkpoint")
with open(os.path.join(out, name + ".safetensors"), "wb") as f:
    f.write(rng.randbytes(3 * 1024 * 1024))
print("\nSaved " + name + ".safetensors", flush=True)
`;

export async function installFakeToolkit(workspaceRoot: string): Promise<void> {
  const dir = join(workspaceRoot, "ai-toolkit");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "run.py"), RUN_PY);
}
