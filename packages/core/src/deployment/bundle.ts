/**
 * What every function's package carries besides its bundled code: the training templates. Every
 * function reads them at start-up (the request schema names the installed templates; provisioning,
 * the push and the reaper read their needs), and `sst.config.ts` copies them with each function's
 * `copyFiles`. `to` is where `defaultTemplatesDir` (training/template-files.ts) looks from a bundled
 * handler: `functions/<name>.mjs` → `configs/`. Imports nothing (sst.config.ts loads this folder alone).
 */
export const BUNDLE_COPY_FILES: readonly { readonly from: string; readonly to: string }[] = [
  { from: "packages/core/configs", to: "configs" },
];
