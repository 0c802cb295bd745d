#!/usr/bin/env bash
# Every libFuzzer target for a short, bounded time under ASan+UBSan, seeded
# with the conformance files and the real files in ../shared/corpus, then
# every saved regression input replayed. Any crash, leak, timeout or
# out-of-memory fails the check; the input is left in build-ci-fuzz/out/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
start=$(date +%s)
seconds=${OWF_FUZZ_SECONDS:-25}
build=${OWF_FUZZ_BUILD:-build-ci-fuzz}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DOWF_BUILD_FUZZ=ON -DOWF_SANITIZE=ON -DOWF_BUILD_TESTS=OFF -DOWF_BUILD_TOOLS=OFF -DOWF_BUILD_EXAMPLES=OFF \
  -DOWF_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"

corpus=$root/../shared/corpus
seeds() {  # seed files per target (missing ones skipped)
  case $1 in
    owf) echo "$root/tests/conformance/files" ;;
    manifest) echo "" ;;
    signature) echo "$root/fuzz/regressions/signature $root/tests/data/keys" ;;
    safetensors) echo "$corpus/SafeTensors.jl/model.safetensors $corpus/SafeTensors.jl/model.with_metadata.safetensors $corpus/burn/multi_layer.safetensors $corpus/candle/jfk-codes.safetensors" ;;
    gguf) echo "$corpus/llama4j/tinyllamas-stories-260k-q8_0.gguf" ;;
    npy) echo "$corpus/numpy/python3.npy $corpus/numpy/win64python2.npy $corpus/numpy/py3-objarr.npy $corpus/candle/test.npy" ;;
    npz) echo "$corpus/numpy/py3-objarr.npz $corpus/candle/test.npz" ;;
    pytorch) echo "$corpus/burn/mnist.pt $corpus/burn/mixed_types.pt $corpus/burn/legacy_shared_storage.pt $corpus/candle/test.pt" ;;
  esac
}
max_len() {
  case $1 in
    manifest) echo 16384 ;;
    signature) echo 8192 ;;
    owf) echo 65536 ;;
    *) echo 131072 ;;
  esac
}
# Every target holds its peak memory to a budget proportional to the input
# inside the target (fuzz_budget.hpp: 32 MiB + 256 x input bytes, 64 MiB at
# most for max_len); the process limit only backs that up.
rss_limit() { echo 1024; }

out=$root/$build/out
rm -rf "$out"
for target in owf manifest safetensors gguf npy npz pytorch signature; do
  dir=$out/$target
  mkdir -p "$dir/corpus" "$dir/seeds"
  for s in $(seeds $target); do
    if [ -d "$s" ]; then cp "$s"/* "$dir/seeds/"; elif [ -f "$s" ]; then cp "$s" "$dir/seeds/"; fi
  done
  if [ "$target" = manifest ]; then
    # Manifests cut out of the conformance files (footer: offset, length).
    for f in "$root"/tests/conformance/files/valid-*.owf; do
      size=$(stat -c %s "$f")
      [ "$size" -lt 3000000 ] || continue
      read -r offset length < <(tail -c 64 "$f" | od -An -tu8 -N16 | tr -s ' ' | sed 's/^ //')
      tail -c +$((offset + 1)) "$f" | head -c "$length" > "$dir/seeds/$(basename "$f" .owf).owfm"
    done
  fi
  echo "== fuzz $target (${seconds}s)"
  "$build/fuzz/owf_fuzz_$target" -max_total_time="$seconds" -rss_limit_mb="$(rss_limit $target)" -timeout=20 \
    -max_len="$(max_len $target)" -dict="fuzz/dicts/$target.dict" -artifact_prefix="$dir/" \
    -print_final_stats=1 "$dir/corpus" "$dir/seeds" > "$dir/log" 2>&1 || {
      tail -n 60 "$dir/log"
      echo "fuzz target $target failed; input saved in $dir/"
      exit 1
    }
  grep -E "^stat::number_of_executed_units|^#[0-9]+ *DONE" "$dir/log" | tr '\n' ' '; echo
  if [ -d "fuzz/regressions/$target" ]; then
    "$build/fuzz/owf_fuzz_$target" -runs=0 -rss_limit_mb="$(rss_limit $target)" "fuzz/regressions/$target" > "$dir/replay.log" 2>&1 || {
      tail -n 40 "$dir/replay.log"; exit 1; }
  fi
done
echo "fuzz: passed in $(( $(date +%s) - start ))s"
