#!/bin/bash
# vast-sim: nvidia-smi for the rented GPU(s), from VAST_SIM_GPU_NAME / _COUNT / _RAM_MB, and the host around
# them: VAST_SIM_NVIDIA_SMI (ok | missing | no_driver | unknown_error), VAST_SIM_GPU_BUSY (indexes another tenant's process
# uses, comma-separated), VAST_SIM_DRIVER_VERSION and VAST_SIM_CUDA_VERSION.
case "${VAST_SIM_NVIDIA_SMI:-ok}" in
  missing)
    echo "bash: line 1: nvidia-smi: command not found" >&2
    exit 127 ;;
  no_driver)
    echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
    exit 9 ;;
esac
name="${VAST_SIM_GPU_NAME:-RTX 4090}"
count="${VAST_SIM_GPU_COUNT:-1}"
ram="${VAST_SIM_GPU_RAM_MB:-24564}"
driver="${VAST_SIM_DRIVER_VERSION:-580.95.05}"
cuda="${VAST_SIM_CUDA_VERSION:-13.0}"
case "$name" in
  NVIDIA*) full="$name" ;;
  RTX*|GTX*|Titan*|TITAN*) full="NVIDIA GeForce $name" ;;
  *) full="NVIDIA $name" ;;
esac
uuid() { printf 'GPU-%08x-5151-4a2c-9d1e-%012x' "$((0x5eed0000 + $1))" "$((0xa11ce + $1))"; }
busy() { [[ ",${VAST_SIM_GPU_BUSY:-}," == *",$1,"* ]]; }
# Memory in use: an idle card shows 1 MiB; a busy one carries another tenant's model.
used() { if busy "$1"; then echo $((ram * 3 / 4)); else echo 1; fi; }
pid() { echo $((4242 + $1)); }

query="" apps="" format="csv"
for arg in "$@"; do
  case "$arg" in
    -L|--list-gpus)
      [ "$count" -gt 0 ] || { echo "No devices were found"; exit 6; }
      for ((i = 0; i < count; i++)); do echo "GPU $i: $full (UUID: $(uuid "$i"))"; done
      exit 0 ;;
    --query-gpu=*) query="${arg#--query-gpu=}" ;;
    --query-compute-apps=*) apps="${arg#--query-compute-apps=}" ;;
    --format=*) format="${arg#--format=}" ;;
    -h|--help) echo "NVIDIA System Management Interface -- v$driver (vast-sim)"; exit 0 ;;
  esac
done
[ "$count" -gt 0 ] || { echo "No devices were found"; exit 6; }

units=1 header=1
[[ "$format" == *nounits* ]] && units=0
[[ "$format" == *noheader* ]] && header=0
mib() { if [ "$units" = 1 ]; then echo "$1 MiB"; else echo "$1"; fi; }
# A GPU in a bad state answers its memory and utilization queries with an error instead of a number.
broken() { [ "${VAST_SIM_NVIDIA_SMI:-ok}" = unknown_error ]; }

# One CSV table: header (unless noheader), then a row per item from `value FIELD ITEM`.
table() {
  local fields_arg="$1" items="$2" value="$3"
  IFS=, read -r -a fields <<< "$fields_arg"
  if [ "$header" = 1 ]; then
    line=""
    for f in "${fields[@]}"; do
      h="$f"
      case "$f" in
        memory.total|memory.used|memory.free|used_memory|used_gpu_memory) [ "$units" = 1 ] && h="$f [MiB]" ;;
        utilization.gpu) [ "$units" = 1 ] && h="$f [%]" ;;
        power.draw) [ "$units" = 1 ] && h="$f [W]" ;;
      esac
      line="${line:+$line, }$h"
    done
    echo "$line"
  fi
  for i in $items; do
    line=""
    for f in "${fields[@]}"; do
      v="$("$value" "$f" "$i")" || { echo "Field \"$f\" is not a valid field to query." >&2; exit 2; }
      line="${line:+$line, }$v"
    done
    echo "$line"
  done
}

gpu_value() {
  case "$1" in
    name|gpu_name) echo "$full" ;;
    index) echo "$2" ;;
    count) echo "$count" ;;
    uuid|gpu_uuid) uuid "$2" ;;
    driver_version) echo "$driver" ;;
    memory.*|utilization.gpu) if broken; then echo "[Unknown Error]"; else gpu_number "$1" "$2"; fi ;;
    temperature.gpu) echo 34 ;;
    power.draw) v="21.37"; [ "$units" = 1 ] && v="$v W"; echo "$v" ;;
    *) return 1 ;;
  esac
}

gpu_number() {
  case "$1" in
    memory.total) mib "$ram" ;;
    memory.used) mib "$(used "$2")" ;;
    memory.free) mib "$((ram - $(used "$2")))" ;;
    utilization.gpu) if busy "$2"; then v=97; else v=0; fi; [ "$units" = 1 ] && v="$v %"; echo "$v" ;;
    *) return 1 ;;
  esac
}

app_value() {
  case "$1" in
    pid) pid "$2" ;;
    process_name|name) echo "python3" ;;
    gpu_uuid) uuid "$2" ;;
    gpu_name) echo "$full" ;;
    gpu_bus_id) printf '00000000:%02X:00.0\n' "$(($2 + 1))" ;;
    used_memory|used_gpu_memory) mib "$(($(used "$2") - 1))" ;;
    *) return 1 ;;
  esac
}

all=""; for ((i = 0; i < count; i++)); do all="$all $i"; done
if [ -n "$query" ]; then
  table "$query" "$all" gpu_value
  exit $?
fi
if [ -n "$apps" ]; then
  busy_list=""; for i in $all; do busy "$i" && busy_list="$busy_list $i"; done
  table "$apps" "$busy_list" app_value
  exit $?
fi

bar="+-----------------------------------------------------------------------------------------+"
mid="+-----------------------------------------+------------------------+----------------------+"
date '+%a %b %e %H:%M:%S %Y       '
echo "$bar"
printf '| NVIDIA-SMI %-22s Driver Version: %-14s CUDA Version: %-9s|\n' "$driver" "$driver" "$cuda"
echo "|-----------------------------------------+------------------------+----------------------+"
echo "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |"
echo "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |"
echo "|                                         |                        |               MIG M. |"
echo "|=========================================+========================+======================|"
for i in $all; do
  printf '| %3d  %-29.29s  On  |   00000000:%02X:00.0 Off |                  Off |\n' "$i" "$full" "$((i + 1))"
  printf '| %2d%%   %2dC    P8            %3dW / %4dW | %10s / %9s |      0%%      Default |\n' \
    30 34 21 450 "$(used "$i")MiB" "${ram}MiB"
  echo "|                                         |                        |                  N/A |"
  echo "$mid"
done
echo "                                                                                         "
echo "$bar"
echo "| Processes:                                                                              |"
echo "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |"
echo "|        ID   ID                                                               Usage      |"
echo "|=========================================================================================|"
found=0
for i in $all; do
  if busy "$i"; then
    found=1
    printf '|  %3d   N/A  N/A  %9d      C   %-40s %8sMiB |\n' "$i" "$(pid "$i")" "python3" "$(($(used "$i") - 1))"
  fi
done
[ "$found" = 1 ] || echo "|  No running processes found                                                             |"
echo "$bar"
