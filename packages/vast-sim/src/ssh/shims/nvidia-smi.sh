#!/bin/bash
# vast-sim: nvidia-smi for the rented GPU(s), from VAST_SIM_GPU_NAME / _COUNT / _RAM_MB.
name="${VAST_SIM_GPU_NAME:-RTX 4090}"
count="${VAST_SIM_GPU_COUNT:-1}"
ram="${VAST_SIM_GPU_RAM_MB:-24564}"
case "$name" in
  NVIDIA*) full="$name" ;;
  RTX*|GTX*|Titan*|TITAN*) full="NVIDIA GeForce $name" ;;
  *) full="NVIDIA $name" ;;
esac
driver="550.54.15"
uuid() { printf 'GPU-%08x-5151-4a2c-9d1e-%012x' "$((0x5eed0000 + $1))" "$((0xa11ce + $1))"; }

query="" format="csv"
for arg in "$@"; do
  case "$arg" in
    -L|--list-gpus)
      for ((i = 0; i < count; i++)); do echo "GPU $i: $full (UUID: $(uuid "$i"))"; done
      exit 0 ;;
    --query-gpu=*) query="${arg#--query-gpu=}" ;;
    --format=*) format="${arg#--format=}" ;;
    -h|--help) echo "NVIDIA System Management Interface -- v$driver (vast-sim)"; exit 0 ;;
  esac
done

if [ -n "$query" ]; then
  IFS=, read -r -a fields <<< "$query"
  units=1 header=1
  [[ "$format" == *nounits* ]] && units=0
  [[ "$format" == *noheader* ]] && header=0
  if [ "$header" = 1 ]; then
    line=""
    for f in "${fields[@]}"; do
      h="$f"
      case "$f" in
        memory.total|memory.used|memory.free) [ "$units" = 1 ] && h="$f [MiB]" ;;
        utilization.gpu) [ "$units" = 1 ] && h="$f [%]" ;;
        power.draw) [ "$units" = 1 ] && h="$f [W]" ;;
      esac
      line="${line:+$line, }$h"
    done
    echo "$line"
  fi
  for ((i = 0; i < count; i++)); do
    line=""
    for f in "${fields[@]}"; do
      case "$f" in
        name|gpu_name) v="$full" ;;
        index) v="$i" ;;
        count) v="$count" ;;
        uuid|gpu_uuid) v="$(uuid "$i")" ;;
        driver_version) v="$driver" ;;
        memory.total) v="$ram"; [ "$units" = 1 ] && v="$v MiB" ;;
        memory.used) v="1"; [ "$units" = 1 ] && v="$v MiB" ;;
        memory.free) v="$((ram - 1))"; [ "$units" = 1 ] && v="$v MiB" ;;
        utilization.gpu) v="0"; [ "$units" = 1 ] && v="$v %" ;;
        temperature.gpu) v="34" ;;
        power.draw) v="21.37"; [ "$units" = 1 ] && v="$v W" ;;
        *) echo "Field \"$f\" is not a valid field to query." >&2; exit 2 ;;
      esac
      line="${line:+$line, }$v"
    done
    echo "$line"
  done
  exit 0
fi

bar="+-----------------------------------------------------------------------------------------+"
mid="+-----------------------------------------+------------------------+----------------------+"
date '+%a %b %e %H:%M:%S %Y       '
echo "$bar"
printf '| NVIDIA-SMI %-22s Driver Version: %-14s CUDA Version: %-9s|\n' "$driver" "$driver" "12.4"
echo "|-----------------------------------------+------------------------+----------------------+"
echo "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |"
echo "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |"
echo "|                                         |                        |               MIG M. |"
echo "|=========================================+========================+======================|"
for ((i = 0; i < count; i++)); do
  printf '| %3d  %-29.29s  On  |   00000000:%02X:00.0 Off |                  Off |\n' "$i" "$full" "$((i + 1))"
  printf '| %2d%%   %2dC    P8            %3dW / %4dW | %10s / %9s |      0%%      Default |\n' \
    30 34 21 450 "1MiB" "${ram}MiB"
  echo "|                                         |                        |                  N/A |"
  echo "$mid"
done
echo "                                                                                         "
echo "$bar"
echo "| Processes:                                                                              |"
echo "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |"
echo "|        ID   ID                                                               Usage      |"
echo "|=========================================================================================|"
echo "|  No running processes found                                                             |"
echo "$bar"
