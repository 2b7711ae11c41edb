/**
 * The shell side of a push, run on the instance with every value passed as a positional
 * argument (never spliced into the script). It extracts into a fresh temp folder next to the
 * target, verifies the manifest there, records the manifest's hash in a marker file, and only
 * then renames the folder into place — so a dropped connection or a bad stream leaves nothing at
 * the target, and the EXIT trap removes the partial folder.
 */
import { shellCommand } from "../ssh";
import { MANIFEST_NAME, MARKER_NAME } from "./entry-name";

export const EXIT_MANIFEST_MISSING = 3;
export const EXIT_MANIFEST_MISMATCH = 4;

const EXTRACT_SCRIPT = `set -eu
parent=$1 dir=$2 compression=$3 manifest=$4 marker=$5
mkdir -p -- "$parent"
# Partial folders left by an earlier, interrupted push of this job (one push at a time: leased).
rm -rf -- "$parent"/.dataset.partial.*
tmp=$(mktemp -d "$parent/.dataset.partial.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM
trap 'exit 141' PIPE
zflag=
if [ "$compression" = gzip ]; then zflag=-z; fi
tar -x $zflag --no-same-owner --no-overwrite-dir -C "$tmp" -f -
cd -- "$tmp"
if [ ! -f "$manifest" ]; then echo "dataset stream ended before its manifest" >&2; exit ${EXIT_MANIFEST_MISSING}; fi
if ! sha256sum -c --quiet --strict -- "$manifest" >&2; then echo "dataset manifest verification failed" >&2; exit ${EXIT_MANIFEST_MISMATCH}; fi
sha256sum -- "$manifest" | cut -d' ' -f1 > "$marker"
cd /
if [ -e "$dir" ]; then
  old=$(mktemp -d "$parent/.dataset.old.XXXXXX")
  mv -T -- "$dir" "$old/d"
fi
mv -T -- "$tmp" "$dir"
trap - EXIT
if [ -n "\${old:-}" ]; then rm -rf -- "$old"; fi
cat -- "$dir/$marker"
`;

export function remoteExtractCommand(datasetDir: string, compression: "none" | "gzip"): string {
  const parent = datasetDir.slice(0, datasetDir.lastIndexOf("/")) || "/";
  return shellCommand`bash -c ${EXTRACT_SCRIPT} push-dataset ${parent} ${datasetDir} ${compression} ${MANIFEST_NAME} ${MARKER_NAME}`;
}

export function readMarkerCommand(datasetDir: string): string {
  return shellCommand`cat -- ${`${datasetDir}/${MARKER_NAME}`} 2>/dev/null || true`;
}
