#!/usr/bin/env bash
# Remote files over loopback, against nginx (tests/http/http_lib.sh):
# - owf-verify URL of a 1 GiB few-large file (download + every digest)
#   against `curl -o /dev/null` of the same file from the same nginx;
# - owf-inspect URL of a 50,000-tensor file: requests (nginx's access log)
#   and time, next to owf-inspect of the local file.
# Best of --reps runs each; ratios are baseline time / OWF time.
#
# usage: bench/http_bench.sh [--tools DIR] [--dir DIR] [--reps N]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../build/tools
dir=/tmp/owf-http-bench
reps=3
while [ $# -gt 0 ]; do
  case $1 in
    --tools) tools=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
mkdir -p "$dir/www"
work=$(cd "$dir" && pwd)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
source "$here/../tests/http/http_lib.sh"
cd "$work"

# 16 tensors of 64 MiB of random bytes (U8): 1 GiB.
if [ ! -e www/few-large.owf ]; then
  echo "generating few-large (1 GiB) ..." >&2
  specs=()
  for i in $(seq -w 1 16); do specs+=("layer$i.weight:67108864"); done
  ST_DTYPE=U8 ST_BYTES=1 ST_DATA=/dev/urandom safetensors few-large.safetensors "${specs[@]}"
  "$tools/owf-convert" few-large.safetensors www/few-large.owf --license MIT -q
  rm -f few-large.safetensors
fi
if [ ! -e www/many.owf ]; then
  echo "generating many (50,000 tensors) ..." >&2
  specs=()
  for i in $(seq -w 1 50000); do specs+=("blocks.$i.weight:16"); done
  safetensors many.safetensors "${specs[@]}"
  "$tools/owf-convert" many.safetensors www/many.owf --license MIT -q
  rm -f many.safetensors
fi
start_nginx
base=http://127.0.0.1:$port

best() {  # best N CMD...: the shortest wall time of N runs, in seconds
  local n=$1 b=""
  shift
  for _ in $(seq 1 "$n"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    b=$(awk -v a="$t1" -v b="$t0" -v c="$b" 'BEGIN { t = a - b; if (c == "" || t < c) print t; else print c }')
  done
  echo "$b"
}
requests() { wc -l <"$work/nginx/access.log"; }

size=$(stat -c %s www/few-large.owf)
t_curl=$(best "$reps" curl -sS -o /dev/null "$base/few-large.owf")
before=$(requests)
t_verify=$(best "$reps" "$tools/owf-verify" "$base/few-large.owf")
verify_requests=$((($(requests) - before) / reps))
t_local=$(best "$reps" "$tools/owf-verify" www/few-large.owf)

before=$(requests)
t_inspect=$(best "$reps" "$tools/owf-inspect" "$base/many.owf")
inspect_requests=$((($(requests) - before) / reps))
t_inspect_local=$(best "$reps" "$tools/owf-inspect" www/many.owf)

awk -v size="$size" -v tc="$t_curl" -v tv="$t_verify" -v tl="$t_local" -v vr="$verify_requests" \
  -v ti="$t_inspect" -v til="$t_inspect_local" -v ir="$inspect_requests" -v ms="$(stat -c %s www/many.owf)" 'BEGIN {
  mib = 1024 * 1024
  printf "| Operation | Time | Throughput | Requests | Ratio |\n|---|---|---|---|---|\n"
  printf "| curl -o /dev/null URL (1 GiB, baseline) | %.2f s | %.0f MiB/s | 1 | 1.00x |\n", tc, size / mib / tc
  printf "| owf-verify URL (1 GiB few-large) | %.2f s | %.0f MiB/s | %d | %.2fx |\n", tv, size / mib / tv, vr, tc / tv
  printf "| owf-verify FILE (same file, local) | %.2f s | %.0f MiB/s | - | %.2fx |\n", tl, size / mib / tl, tc / tl
  printf "| owf-inspect FILE (50,000 tensors, %.1f MiB, baseline) | %.3f s | | - | 1.00x |\n", ms / mib, til
  printf "| owf-inspect URL (50,000 tensors) | %.3f s | | %d | %.2fx |\n", ti, ir, til / ti
}'
