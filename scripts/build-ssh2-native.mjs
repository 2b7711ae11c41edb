// Builds ssh2's optional native crypto binding (AES-GCM and ChaCha20-Poly1305 in C++ on OpenSSL),
// which roughly halves the CPU a dataset push spends on encryption. Run by `npm install`/`npm ci`
// as the root package's postinstall, and by scripts/prerequisites.sh after it installs a compiler.
//
// ssh2's own install script is denied in package.json (`allowScripts`): it runs node-gyp without
// headers, and node-gyp would try to download them from the internet. Here node-gyp gets the headers
// of the Node the project pins (the `node` devDependency installs `node-<platform>-<arch>`, which
// ships `include/node`), so the build works offline. It needs python3, make and a C++ compiler.
//
// Never fails the install: without a compiler (or on any error) ssh2 keeps its pure-JS crypto, which
// it falls back to by itself when the binding is missing. `--force` rebuilds an existing binding.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const say = (message) => console.error(`ssh2 native crypto: ${message}`);

function main() {
  const ssh2 = dirname(require.resolve("ssh2/package.json"));
  const cryptoDir = join(ssh2, "lib", "protocol", "crypto");
  const binding = join(cryptoDir, "build", "Release", "sshcrypto.node");
  if (existsSync(binding) && !process.argv.includes("--force")) {
    if (loads(binding)) return say("already built");
  }
  const nodeDir = headersDir();
  if (!nodeDir) return say(`no Node ${process.version} headers found; ssh2 uses its pure-JS crypto`);
  const gyp = nodeGyp();
  if (!gyp) return say("node-gyp not found (it comes with npm); ssh2 uses its pure-JS crypto");
  const missing = ["python3", "make", "g++"].filter((tool) => !onPath(tool));
  if (missing.length > 0) {
    return say(
      `${missing.join(", ")} missing (Debian: apt-get install -y g++ make python3, or sh scripts/prerequisites.sh); ssh2 uses its pure-JS crypto`,
    );
  }
  const openssl = /^\d+/.exec(process.versions.openssl)?.[0] ?? "3";
  const result = spawnSync(
    process.execPath,
    [
      gyp,
      "rebuild",
      `--target=${process.version}`,
      `--nodedir=${nodeDir}`,
      `--real_openssl_major=${openssl}`,
    ],
    {
      cwd: cryptoDir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      // node-gyp lets npm's config (npm_config_*, e.g. a `nodedir` in ~/.npmrc pointing at another
      // Node's headers) override its command line: pin the values that decide the ABI.
      env: {
        ...process.env,
        npm_config_nodedir: nodeDir,
        npm_config_target: process.version,
        npm_config_arch: process.arch,
      },
    },
  );
  if (result.status !== 0 || !loads(binding)) {
    const tail = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-5).join("\n");
    return say(`build failed; ssh2 uses its pure-JS crypto\n${tail}`);
  }
  say(`built for Node ${process.version} (${process.platform}-${process.arch}, headers from ${nodeDir})`);
}

/** `include/node` of the exact Node version running this script. */
function headersDir() {
  const candidates = [];
  const pkg = `node-${process.platform === "win32" ? "win" : process.platform}-${process.arch}`;
  try {
    const nodePkg = dirname(require.resolve("node/package.json"));
    candidates.push(join(nodePkg, "node_modules", pkg));
  } catch {}
  try {
    candidates.push(dirname(require.resolve(`${pkg}/package.json`)));
  } catch {}
  // A Node installed with its headers (e.g. from the official tarball).
  candidates.push(join(dirname(process.execPath), ".."));
  return candidates.find((dir) => {
    const versionH = join(dir, "include", "node", "node_version.h");
    if (!existsSync(versionH)) return false;
    const text = readFileSync(versionH, "utf8");
    const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1];
    return `v${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}` === process.version;
  });
}

/** npm passes its bundled node-gyp to scripts; by hand, it sits next to npm's own files. */
function nodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(
      join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    );
  }
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir) continue;
    candidates.push(
      join(dir, "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    );
  }
  return candidates.find((path) => path.endsWith(".js") && existsSync(path));
}

function onPath(tool) {
  return (process.env.PATH ?? "").split(":").some((dir) => dir && existsSync(join(dir, tool)));
}

/** A binding built for another Node or architecture fails to load; ssh2 would then ignore it. */
function loads(binding) {
  const check = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(binding)})`], {
    stdio: "ignore",
  });
  return check.status === 0;
}

try {
  main();
} catch (error) {
  say(`skipped (${error instanceof Error ? error.message : String(error)}); ssh2 uses its pure-JS crypto`);
}
