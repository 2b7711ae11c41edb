/**
 * The shell side of a push, run on the instance with every value passed as a positional
 * argument (never spliced into the script). It extracts into the job's partial folder next to the
 * target, verifies the manifest there, records the manifest's hash in a marker file, and only
 * then renames the folder into place — so a dropped connection or a bad stream never leaves a
 * dataset at the target.
 *
 * With python3 on the instance (`remote-verify.ts`), extraction and verification are one pass, and
 * the partial folder survives a cut stream: the next push lists what is there (stdout `present`
 * lines, then `ready`) and the sender leaves out every file already present with the same size and
 * hash. Without python3: `tar -x`, then `sha256sum -c`, into a partial folder emptied first. Any
 * other failure (a mismatch, a full disk, an unexpected error) removes the partial folder.
 *
 * A full disk gets its own exit code, decided from `df`, never from an error message: before
 * extracting when the dataset's size is announced and does not fit the free space (with a
 * margin), and after any failing step when the filesystem is (nearly) full.
 */
import { shellCommand } from "../ssh";
import { MANIFEST_NAME, MARKER_NAME } from "./entry-name";
import { EXIT_OLD_PYTHON, REMOTE_VERIFY_PY } from "./remote-verify";

export const EXIT_MANIFEST_MISSING = 3;
export const EXIT_MANIFEST_MISMATCH = 4;
/** The dataset does not fit the instance's disk (announced size too large, or the disk filled up). */
export const EXIT_NO_SPACE = 5;
/** Free space required on top of the announced dataset size: file-system blocks, directories. */
export const SPACE_MARGIN_PERCENT = 5;
/** Below this much free space (or 1% of the filesystem) a failed step is blamed on a full disk. */
const NEARLY_FULL_KIB = 64 * 1024;
/** How long a push waits for the extractor of an earlier, dropped push of the same job to end. */
const PREVIOUS_PUSH_WAIT_SECONDS = 120;
/** Name of the folder a push extracts into, next to the dataset folder. */
export const PARTIAL_NAME = ".dataset.partial";

const EXTRACT_SCRIPT = `set -eu
parent=$1 dir=$2 compression=$3 manifest=$4 marker=$5 announced=$6 margin=$7 verifier=$8 partial=$9 verify_py=\${10}
# Plain digits only (they reach shell arithmetic, which would evaluate anything else), at most 16.
case $announced in *[!0-9]*|?????????????????*) announced= ;; esac
case $margin in ''|*[!0-9]*|????*) margin=0 ;; esac
# POSIX df, 1024-byte blocks: field 2 is the size, field 4 what is available to us.
df_kib() { df -Pk -- "$parent" 2>/dev/null | tail -n 1 | tr -s ' ' | cut -d' ' -f"$1"; }
nearly_full() {
  avail=$(df_kib 4) size=$(df_kib 2)
  case $avail$size in ''|*[!0-9]*) return 1 ;; esac
  [ "$avail" -lt ${NEARLY_FULL_KIB} ] || [ $((avail * 100)) -lt "$size" ]
}
tmp=
finish() {
  status=$?
  # Whatever step failed (tar, the extractor, the marker, mv), a full disk is the reason to report;
  # checked before the partial folder is removed, while the space is still taken.
  case $status in
    0|${EXIT_MANIFEST_MISSING}|${EXIT_MANIFEST_MISMATCH}|${EXIT_NO_SPACE}) ;;
    *) if [ "$status" -lt 128 ] && nearly_full; then
         echo "the instance's disk is full ($(df_kib 4) KiB free on the filesystem of $parent): the dataset does not fit" >&2
         status=${EXIT_NO_SPACE}
       fi ;;
  esac
  # A cut stream (no manifest, the connection lost) keeps what arrived for the next push to resume.
  case $status in
    ${EXIT_MANIFEST_MISSING}|129|141|143) ;;
    *) if [ -n "$tmp" ]; then rm -rf -- "$tmp"; fi ;;
  esac
  exit "$status"
}
trap finish EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM
trap 'exit 141' PIPE
mkdir -p -- "$parent"
# One push per job folder at a time: the extractor of a dropped connection may still be draining
# what reached its pipe (and removing its half-written file) when the retry arrives, and the retry
# must list the partial folder only after that. The lock is on the folder itself (no lock file),
# held through the extractor, which inherits the descriptor; without flock, no wait.
exec 9<"$parent"
if command -v flock >/dev/null 2>&1; then flock -w ${PREVIOUS_PUSH_WAIT_SECONDS} 9 || true; fi
# Left by older versions of this script (random partial names) or by an interrupted swap.
rm -rf -- "$parent"/.dataset.partial.* "$parent"/.dataset.old.*
if [ -n "$announced" ]; then
  need=$(( (announced + announced / 100 * margin) / 1024 + 1 ))
  avail=$(df_kib 4)
  case $avail in ''|*[!0-9]*) ;; *)
    if [ "$avail" -lt "$need" ]; then
      echo "not enough disk space for the dataset: it needs $need KiB ($announced bytes plus $margin%), and the filesystem of $parent has $avail KiB free" >&2
      exit ${EXIT_NO_SPACE}
    fi ;;
  esac
fi
tmp=$parent/$partial
# The extractor needs only Python's standard library, so the system's python3 serves and starts
# at once; a python3 found on PATH may be a wrapper (pyenv or conda shims) that costs a fraction of
# a second before the first byte can flow.
py=
if [ "$verifier" = auto ]; then
  if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; elif command -v python3 >/dev/null 2>&1; then py=python3; fi
fi
py_status=${EXIT_OLD_PYTHON}
if [ -n "$py" ]; then
  mkdir -p -- "$tmp"
  # One start of Python: the script checks its own version and exits with EXIT_OLD_PYTHON before
  # reading anything when too old, and the tar fallback takes over.
  set +e
  "$py" -c "$verify_py" "$tmp" "$manifest" "$marker" "$compression"
  py_status=$?
  set -e
  [ "$py_status" = ${EXIT_OLD_PYTHON} ] || [ "$py_status" = 0 ] || exit "$py_status"
fi
if [ "$py_status" = ${EXIT_OLD_PYTHON} ]; then
  rm -rf -- "$tmp"
  mkdir -- "$tmp"
  echo ready
  zflag=
  if [ "$compression" = gzip ]; then zflag=-z; fi
  tar -x $zflag --no-same-owner --no-overwrite-dir -C "$tmp" -f -
  cd -- "$tmp"
  if [ ! -f "$manifest" ]; then echo "dataset stream ended before its manifest" >&2; exit ${EXIT_MANIFEST_MISSING}; fi
  if ! sha256sum -c --quiet --strict -- "$manifest" >&2; then echo "dataset manifest verification failed" >&2; exit ${EXIT_MANIFEST_MISMATCH}; fi
  sha256sum -- "$manifest" | cut -d' ' -f1 > "$marker"
  cd /
fi
if [ -e "$dir" ]; then
  old=$(mktemp -d "$parent/.dataset.old.XXXXXX")
  mv -T -- "$dir" "$old/d"
fi
mv -T -- "$tmp" "$dir"
tmp=
if [ -n "\${old:-}" ]; then rm -rf -- "$old"; fi
cat -- "$dir/$marker"
`;

/** How the instance verifies: `auto` uses python3 when it has one; `sha256sum` forces the fallback (tests). */
export type RemoteVerifier = "auto" | "sha256sum";

/**
 * `announcedBytes`: the dataset's payload size when known (a listing source); the script then
 * refuses up front, with `EXIT_NO_SPACE`, a dataset that does not fit the free space.
 */
export function remoteExtractCommand(
  datasetDir: string,
  compression: "none" | "gzip",
  announcedBytes?: number,
  verifier: RemoteVerifier = "auto",
): string {
  const parent = datasetDir.slice(0, datasetDir.lastIndexOf("/")) || "/";
  const announced = announcedBytes === undefined ? "" : String(announcedBytes);
  return shellCommand`bash -c ${EXTRACT_SCRIPT} push-dataset ${parent} ${datasetDir} ${compression} ${MANIFEST_NAME} ${MARKER_NAME} ${announced} ${SPACE_MARGIN_PERCENT} ${verifier} ${PARTIAL_NAME} ${REMOTE_VERIFY_PY}`;
}

export function readMarkerCommand(datasetDir: string): string {
  return shellCommand`cat -- ${`${datasetDir}/${MARKER_NAME}`} 2>/dev/null || true`;
}

/** Removes what an abandoned push left in the partial folder (nothing to resume from). */
export function clearPartialCommand(datasetDir: string): string {
  const parent = datasetDir.slice(0, datasetDir.lastIndexOf("/")) || "/";
  return shellCommand`rm -rf -- ${`${parent}/${PARTIAL_NAME}`}`;
}
