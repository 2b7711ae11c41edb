#!/bin/bash
# vast-sim: df for the instance's disk. On Vast everything an instance writes lands on one disk of the size
# its create asked for: every path reports VAST_SIM_DISK_BYTES, used by what the instance folder holds, and
# free the rest — or VAST_SIM_DISK_FREE_BYTES when the host profile says so. POSIX output (-P) in 1-byte
# (-B1), 1K (-k, the default) or other -B blocks. Without VAST_SIM_DISK_BYTES (an SSH server started without
# a host) and for options it does not know, the real df answers.
real=/usr/bin/df
[ -x "$real" ] || real=/bin/df
[ -n "${VAST_SIM_DISK_BYTES:-}" ] || exec "$real" "$@"

block=1024 paths=() args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --portability) ;;
    --block-size=*) block="${1#--block-size=}" ;;
    --) shift; paths+=("$@"); break ;;
    --*) exec "$real" "${args[@]}" ;;
    -?*)
      # Short options, combined or not (-P -k, -Pk, -PB1, -B 1).
      opts="${1#-}"
      while [ -n "$opts" ]; do
        c="${opts:0:1}" opts="${opts:1}"
        case "$c" in
          P) ;;
          k) block=1024 ;;
          B) if [ -n "$opts" ]; then block="$opts"; else shift; block="${1:-}"; fi; opts="" ;;
          *) exec "$real" "${args[@]}" ;;
        esac
      done ;;
    *) paths+=("$1") ;;
  esac
  shift
done
case "$block" in
  *[kK]) block=$((${block%?} * 1024)) ;;
  *M) block=$((${block%?} * 1024 * 1024)) ;;
  *G) block=$((${block%?} * 1024 * 1024 * 1024)) ;;
esac
[[ "$block" =~ ^[1-9][0-9]*$ ]] || { echo "df: invalid block size" >&2; exit 1; }
[ ${#paths[@]} -gt 0 ] || paths=(/)

size=$VAST_SIM_DISK_BYTES
if [ -n "${VAST_SIM_DISK_FREE_BYTES:-}" ]; then
  free=$VAST_SIM_DISK_FREE_BYTES
else
  held=$(du -sb -- "${VAST_SIM_ROOT:-/workspace}" 2>/dev/null | cut -f1)
  free=$((size - ${held:-0}))
fi
[ "$free" -ge 0 ] || free=0
[ "$free" -le "$size" ] || free=$size
used=$((size - free))

code=0
if [ "$block" = 1 ]; then head="1-blocks"; else head="$block-blocks"; fi
[ "$block" = 1024 ] && head="1024-blocks"
printf '%-14s %12s %12s %12s %8s %s\n' Filesystem "$head" Used Available Capacity "Mounted on"
for path in "${paths[@]}"; do
  if [ ! -e "$path" ]; then
    echo "df: $path: No such file or directory" >&2
    code=1
    continue
  fi
  pct=0
  [ "$size" -gt 0 ] && pct=$(((used * 100 + size - 1) / size))
  printf '%-14s %12d %12d %12d %7d%% %s\n' overlay \
    $(((size + block - 1) / block)) $(((used + block - 1) / block)) $((free / block)) "$pct" /
done
exit "$code"
