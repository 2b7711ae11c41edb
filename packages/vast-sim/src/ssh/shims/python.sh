#!/bin/bash
# vast-sim: python wrapper. "python [flags] run.py CONFIG" on the training stand-in runs it; anything else
# goes to the real python3 when the machine has one, with the PyTorch stand-in (pylib/torch) importable.
here="$(cd "$(dirname "$0")" && pwd)"
args=("$@")
i=0
while [ "$i" -lt "${#args[@]}" ] && [[ "${args[$i]}" =~ ^-[uBOsSEIv]+$ ]]; do i=$((i + 1)); done
script="${args[$i]:-}"
if [ -n "$script" ] && [ "$(basename -- "$script")" = "run.py" ] && [ -f "$script" ] \
  && grep -q "vast-sim training stand-in" "$script"; then
  exec /bin/bash "$here/vast-sim-train" "${args[@]:$((i + 1))}"
fi
# The PyTorch stand-in comes first on the path: the host profile, not this machine, says what torch sees.
export PYTHONPATH="$here/pylib${PYTHONPATH:+:$PYTHONPATH}"
if [ -x /usr/bin/python3 ]; then exec /usr/bin/python3 "$@"; fi
echo "python: no python3 on this simulated instance" >&2
exit 127
