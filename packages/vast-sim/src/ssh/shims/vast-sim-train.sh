#!/bin/bash
# vast-sim: vast-sim training stand-in for ai-toolkit's "python run.py CONFIG". Reads the YAML config, prints
# tqdm-style progress lines as ai-toolkit does ("name:  15%|█▌        | 300/2000 [01:02<05:40,  4.98it/s,
# lr: 1.0e-04 loss: 3.9e-01]"), one per line rather than carriage-return updates so logs stay readable
# (10 of them, or progressTicks), over durationSeconds / VAST_SIM_TIME_SCALE real seconds, then writes
# <training_folder>/<name>/<name>.safetensors, or fails as .vast-sim/training.json says.
set -u
config="${1:-}"
if [ -z "$config" ] || [ ! -f "$config" ]; then
  echo "Error: config file not found: ${config:-<none>}" >&2
  exit 1
fi

# First value of a YAML key, quotes and trailing comments removed (ai-toolkit configs are simple).
yaml_value() {
  grep -E "^[[:space:]-]*$1:[[:space:]]" "$config" | head -n 1 \
    | sed -E "s/^[[:space:]-]*$1:[[:space:]]*//; s/[[:space:]]+#.*$//; s/^[\"']//; s/[\"'][[:space:]]*$//; s/[[:space:]]+$//"
}
name="$(yaml_value name)"
folder="$(yaml_value training_folder)"
steps="$(yaml_value steps)"
[ -n "$name" ] || { echo "Error: config.name missing in $config" >&2; exit 1; }
[ -n "$folder" ] || folder="output"
[[ "$steps" =~ ^[0-9]+$ ]] || steps=1000

# Behaviour: one "key": value per line (setTrainingBehaviour writes it so).
behaviour="${VAST_SIM_ROOT:-$HOME}/.vast-sim/training.json"
json_value() {
  [ -f "$behaviour" ] || return 0
  grep -E "^[[:space:]]*\"$1\":" "$behaviour" | head -n 1 | sed -E "s/^[[:space:]]*\"$1\":[[:space:]]*//; s/,[[:space:]]*$//"
}
duration="$(json_value durationSeconds)"; duration="${duration:-120}"
fail="$(json_value fail)"; fail="${fail:-false}"
exit_code="$(json_value exitCode)"; exit_code="${exit_code:-1}"
message="$(json_value failMessage)"
if [ -n "$message" ]; then
  message="$(printf '%s' "$message" | sed -E 's/^"//; s/"$//; s/\\"/"/g; s/\\n/ /g; s/\\\\/\\/g')"
else
  message="torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
fi
scale="${VAST_SIM_TIME_SCALE:-1}"
hold="$(json_value holdAfterTicks)"; hold="${hold:-0}"
release="${VAST_SIM_ROOT:-$HOME}/.vast-sim/release"

ticks="$(json_value progressTicks)"
[[ "$ticks" =~ ^[1-9][0-9]*$ ]] || ticks=10
pause="$(awk -v d="$duration" -v s="$scale" -v t="$ticks" 'BEGIN { if (s <= 0) s = 1; printf "%.3f", d / s / t }')"
last=$ticks
[ "$fail" = "true" ] && last=$((ticks / 2))

echo "Running 1 job"
echo "Starting job: $name (${VAST_SIM_GPU_NAME:-GPU} x${VAST_SIM_GPU_COUNT:-1})"
# One tqdm progress line (simulated time: elapsed and remaining are in the run's own seconds).
progress_line() {
  awk -v name="$name" -v step="$1" -v total="$steps" -v d="$duration" 'BEGIN {
    pct = int(step * 100 / total); full = int(step * 10 / total)
    bar = ""; for (i = 0; i < 10; i++) bar = bar (i < full ? "\342\226\210" : " ")
    el = d * step / total; rem = d - el; rate = (d > 0 ? total / d : 0)
    printf "%s: %3d%%|%s| %d/%d [%02d:%02d<%02d:%02d, %5.2fit/s, lr: 1.0e-04 loss: %.1e]\n",
      name, pct, bar, step, total, int(el / 60), int(el) % 60, int(rem / 60), int(rem) % 60, rate,
      0.6 / (1 + step / 100)
  }'
}

for ((t = 1; t <= last; t++)); do
  sleep "$pause"
  progress_line "$(((steps * t + ticks - 1) / ticks))"
  if [ "$t" = "$hold" ]; then
    # Held (tests): still running at this step until releaseTraining creates the release file.
    while [ ! -e "$release" ]; do sleep 0.05; done
    rm -f -- "$release"
  fi
done

if [ "$fail" = "true" ]; then
  echo "$message" >&2
  exit "$exit_code"
fi

out="$folder/$name"
mkdir -p "$out"
header="{\"__metadata__\":{\"format\":\"pt\",\"name\":\"$name\",\"steps\":\"$steps\"}}"
len=${#header}
{
  for ((b = 0; b < 8; b++)); do printf "\\x$(printf '%02x' $(((len >> (8 * b)) & 255)))"; done
  printf '%s' "$header"
  head -c 4096 /dev/urandom
} > "$out/$name.safetensors.tmp"
mv "$out/$name.safetensors.tmp" "$out/$name.safetensors"
echo "Saved to $out/$name.safetensors"
echo "Done"
