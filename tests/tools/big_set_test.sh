#!/usr/bin/env bash
# A 3 GiB model split into 1 GiB shards and joined again, each step in
# memory near one piece: the library streams tensors in 8 MiB pieces and a
# writer keeps only the manifest, so peak RSS must not grow with the model.
#
# The source is a sparse safetensors file (a header, then a hole: 12 F32
# tensors of 256 MiB, all zeros) that costs no disk; the OWF set and the
# joined file are real data, 3 GiB each.
#
# usage: big_set_test.sh TOOLS_DIR
# env:   OWF_BIG_SET_TENSOR_MIB  size of each of the 12 tensors (default 256)
#        OWF_BIG_SET_SHARD_MIB   largest shard (default 1024)
#        OWF_BIG_SET_DIR         where to work (default: $TMPDIR or /tmp)
#        OWF_BIG_SET_RSS_MIB     peak RSS bound per step (default 96, see below)
set -uo pipefail
tools=$(cd "$1" && pwd) || exit 2
mib=${OWF_BIG_SET_TENSOR_MIB:-256}
shard_mib=${OWF_BIG_SET_SHARD_MIB:-1024}
count=12
# Peak RSS bound per step. What a step legitimately holds: the tool's own
# code and libraries (~10 MiB), one 8 MiB piece in flight with its read
# and write buffers (the reader's piece, a compression-free copy, the
# output buffer: up to 3 x 8 MiB), the manifests (KiB here), and the
# allocator's retained arenas. 64 MiB is that with room to spare; 32 MiB
# more covers glibc malloc's per-thread arenas (one per hashing thread)
# and mapped file pages that count in RSS while a piece is hashed. Seen
# here: 23-24 MiB to split or join, 30 MiB to digest the source, 14-15 MiB
# to verify. A step that held a whole tensor (256 MiB) or a whole shard
# (1 GiB) fails by far.
bound_mib=${OWF_BIG_SET_RSS_MIB:-96}
base=${OWF_BIG_SET_DIR:-${TMPDIR:-/tmp}}

if [ ! -x /usr/bin/time ]; then
  echo "SKIP: /usr/bin/time is missing (apt-get install time): peak RSS cannot be measured"
  exit 0
fi
tensor_bytes=$((mib * 1024 * 1024))
total=$((tensor_bytes * count))
# Needed at once: the set and the joined file (2 x the model), plus room.
need_kib=$((total / 1024 * 2 + 4 * 1024 * 1024))
free_kib=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
if [ "${free_kib:-0}" -lt "$need_kib" ]; then
  echo "SKIP: $base has $((free_kib / 1024)) MiB free; this test needs $((need_kib / 1024)) MiB (two copies of a $((total / 1048576)) MiB model and a margin)"
  exit 0
fi

work=$(mktemp -d "$base/owf-big-set.XXXXXX")
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/script_checks.sh"
cd "$work" || exit 2
inspect=$tools/owf-inspect verify=$tools/owf-verify convert=$tools/owf-convert

# measure NAME CMD...: runs CMD under /usr/bin/time -v; checks exit 0 and
# the peak RSS bound, prints wall time and peak RSS.
measure() {
  local name=$1
  shift
  local start end
  start=$(date +%s%N)
  /usr/bin/time -v -o "$work/.time" "$@" >"$work/.out" 2>"$work/.err"
  rc=$?
  end=$(date +%s%N)
  out=$(cat "$work/.out")
  checks=$((checks + 1))
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $name: '$*' exited $rc"
    echo "  stdout: ${out:0:400}"
    echo "  stderr: $(head -c 400 "$work/.err")"
    failures=$((failures + 1))
  fi
  local rss_kib
  rss_kib=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+).*/\1/p' "$work/.time")
  local ds=$(((end - start) / 100000000)) rss10=$((${rss_kib:-0} * 10 / 1024))
  printf '%-28s wall %4d.%d s   peak RSS %4d.%d MiB\n' "$name" $((ds / 10)) $((ds % 10)) $((rss10 / 10)) $((rss10 % 10))
  check "$name: peak RSS ${rss_kib:-?} KiB under $bound_mib MiB" test "${rss_kib:-999999999}" -lt $((bound_mib * 1024))
}
json_digest() { sed -nE 's/^  "weights_digest": "([0-9a-f]{64})".*/\1/p' <<<"$1" | head -1; }

test_start=$(date +%s)
echo "== a sparse safetensors source: $count F32 tensors of $mib MiB ($((total / 1048576)) MiB)"
header='{'
for ((i = 0; i < count; i++)); do
  [ "$i" -gt 0 ] && header+=','
  header+=$(printf '"layer.%02d.weight":{"dtype":"F32","shape":[%d,1024],"data_offsets":[%d,%d]}' \
    "$i" $((tensor_bytes / 4096)) $((i * tensor_bytes)) $(((i + 1) * tensor_bytes)))
done
header+='}'
while [ $((${#header} % 8)) -ne 0 ]; do header+=' '; done
n=${#header}
# The header length, 8 bytes little-endian.
printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x' \
  $((n & 255)) $(((n >> 8) & 255)) $(((n >> 16) & 255)) $(((n >> 24) & 255)) 0 0 0 0)" >model.safetensors
printf '%s' "$header" >>model.safetensors
truncate -s $((8 + n + total)) model.safetensors
check "the source is sparse (allocates under 1 MiB)" test "$(du -k model.safetensors | cut -f1)" -lt 1024

measure "inspect source" "$inspect" --json model.safetensors
source_digest=$(json_digest "$out")
check "the source has a weights digest" test -n "$source_digest"

echo "== split into $shard_mib MiB shards"
mkdir set
measure "convert to a set" "$convert" model.safetensors set/model.owf --license MIT --max-shard-size "${shard_mib}MiB"
shards=(set/model-*-of-*.owf)
per_shard=$((shard_mib / mib))
expected_shards=$(((count + per_shard - 1) / per_shard))
check "$expected_shards shards written (${#shards[@]}: ${shards[*]})" test "${#shards[@]}" -eq "$expected_shards"
check "no single file beside the set" test ! -e set/model.owf
check "convert prints the source's digest" has "$out" "$source_digest"
# owf-verify on a shard: on main at the time of writing it reads the set
# through open_source and prints the set's digest, but takes no time for
# 1 GiB and passes a shard whose tensor bytes were changed (reported); the
# join below and "verify joined" are what check every byte here.
measure "verify one shard" "$verify" "${shards[-1]}"
measure "inspect one shard" "$inspect" --json "${shards[0]}"
check "the shard's manifest names the set's digest" has "$out" "$source_digest"

echo "== join the set into one file"
measure "convert set to one file" "$convert" "${shards[0]}" joined.owf
check "joining prints the same digest" has "$out" "$source_digest"
measure "inspect joined" "$inspect" --json joined.owf
check "joined: same weights digest as the source" test "$(json_digest "$out")" = "$source_digest"
check "joined holds the whole model" test "$(stat -c %s joined.owf)" -gt "$total"
rm -rf set
measure "verify joined" "$verify" joined.owf
rm -f joined.owf

echo "$checks checks, $failures failures, $(($(date +%s) - test_start)) s"
[ "$failures" -eq 0 ]
