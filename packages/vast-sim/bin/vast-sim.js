#!/usr/bin/env node
// The `vast-sim` command. The simulator is TypeScript: register tsx (resolved from this package, so the
// command works from any folder once installed) and run the CLI. Needs Node >= 20.6 (module.register).
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
