#!/usr/bin/env bash
# The owf-* tools on small files: options, output, exit codes, and what
# they leave on disk.
#
# usage: cli_test.sh TOOLS_DIR DATA_DIR [CORPUS_DIR]
set -uo pipefail
tools=$1
data=$2
corpus=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/script_checks.sh"
cd "$work" || exit 2

lacks() { ! grep -qE -- "$2" <<<"$1"; }
json_int() { sed -nE "s/.*\"$2\": ([0-9]+).*/\1/p" <<<"$1" | head -1; }

inspect=$tools/owf-inspect verify=$tools/owf-verify convert=$tools/owf-convert diff=$tools/owf-diff edit=$tools/owf-edit

echo "== usage"
for t in "$inspect" "$verify" "$convert" "$diff" "$edit"; do
  run 0 "$t" --help
  check "$(basename "$t") --help describes the tool" has "$out" "Usage|usage"
  run 2 "$t" --no-such-option
  run 2 "$t"
done

echo "== owf-convert"
run 2 "$convert" "$data/diff_a.npz" a.owf
check "missing license is named" has "$err" "missing_license"
check "missing license: the hint names --license" has "$err" "hint: pass --license"
check "no output after a refused conversion" test ! -e a.owf
run 2 "$convert" "$data/diff_a.npz" a.owf --license "NOT-A-LICENSE"
check "bad SPDX names the token" has "$err" "bad_license.*NOT-A-LICENSE"
run 0 "$convert" "$data/diff_a.npz" noassert.owf --license NOASSERTION
run 0 "$convert" "$data/diff_a.npz" a.owf --license MIT --license-name "MIT License" --copyright "2024 Someone" \
  --hparam layers=3 --hparam training.lr=0.5 --hparam causal=true --hparam act=gelu --hparam dims=[64,128] \
  --hparam "names=[a,b]" --hparam "quoted='42'" --meta origin=test --name tiny --version 1.2 --architecture mlp \
  --description "a test model" --author Ann --author Bob --source-url https://example.org/m
check "convert prints the digest" has "$out" "weights digest [0-9a-f]{64} \(unchanged\)"
printf '{"tokenizer": "none", "epochs": 3}\n' >meta.json
run 0 "$convert" "$data/diff_a.npz" meta.owf --license MIT --metadata meta.json --alignment 4096
run 0 "$convert" "$data/diff_a.npz" forced.owf --license MIT
run 2 "$convert" "$data/diff_a.npz" forced.owf --license MIT
check "existing output needs --force" has "$err" "exists.*--force"
run 0 "$convert" "$data/diff_a.npz" forced.owf --license MIT --force --hparam layers=3
run 2 "$convert" "$data/diff_a.npz" out.unknown --license MIT
check "unknown target extension asks for --to" has "$err" "--to"
run 0 "$convert" "$data/diff_a.npz" out.unknown --to owf --license MIT
run 1 "$convert" "$data/diff_a.npz" bad-align.owf --license MIT --alignment 3
check "alignment must be a power of two" has "$err" "bad_alignment"
run 2 "$convert" "$data/diff_a.npz" x.owf --license MIT --hparam "=3"
run 2 "$convert" "$data/diff_a.npz" x.owf --license MIT --compress lz4
run 2 "$convert" "$data/diff_a.npz" multi.npy
check "several tensors cannot become one .npy" has "$err" "."
check "no .npy left behind" test ! -e multi.npy
# Compression is optional in a build: either it works and verifies, or the error says why.
"$convert" "$data/diff_a.npz" z.owf --license MIT --compress zstd:5 >/dev/null 2>zerr
if [ -e z.owf ]; then
  run 0 "$verify" z.owf
else
  check "a refused compression says why" has "$(cat zerr)" "compress|unsupported"
fi
run 0 "$convert" "$data/diff_a.npz" z-off.owf --license MIT --compress zstd --no-compress
run 0 "$convert" a.owf a.npz
run 0 "$convert" a.owf a.safetensors
run 0 "$convert" a.owf a.gguf
run 0 "$convert" a.owf a2.owf --license Apache-2.0 --quiet
check "--quiet prints nothing" test -z "$out"
run 0 "$convert" --from npz --to safetensors "$data/diff_a.npz" from-to.bin
run 0 "$convert" "$data/stats.npy" stats.owf --license CC0-1.0
run 0 "$convert" stats.owf stats.npy

echo "== owf-inspect"
run 0 "$inspect" a.owf
for section in "format +OWF 1\.0" "file size" "alignment +64" "weights digest +[0-9a-f]{64}" "spdx +MIT" \
  "name +MIT License" "copyright +2024 Someone" "architecture +mlp" "author +Ann" "layers +3" \
  "training\.lr +0\.5" "origin" "name +role +dtype +shape +elements +stored bytes +codec" \
  "w +weight|w +other" "parameters +20" "F32 +12"; do
  check "inspect text shows '$section'" has "$out" "$section"
done
run 0 "$inspect" --json a.owf
json=$out
for key in '"format": "owf"' '"weights_digest": "[0-9a-f]{64}"' '"license": \{' '"spdx": "MIT"' \
  '"hyperparameters": \{' '"metadata": \{' '"tensors": \[' '"sha256": "[0-9a-f]{64}"' '"role": "' \
  '"layers": 3,' '"training.lr": 0.5' '"causal": true' '"act": "gelu"' '"quoted": "42"' '"origin": "test"'; do
  check "inspect --json has $key" has "$json" "$key"
done
check "typed list in JSON" has "$(tr -d ' \n' <<<"$json")" '"dims":\[64,128\]'
check "string list in JSON" has "$(tr -d ' \n' <<<"$json")" '"names":\["a","b"\]'
run 0 "$inspect" --json meta.owf
check "--metadata FILE.json: strings kept" has "$out" '"tokenizer": "none"'
check "--metadata FILE.json: other values as JSON text" has "$out" '"epochs": "3"'
check "--alignment 4096" has "$out" '"alignment": 4096'
check "tensor offsets are multiples of 4096" test -z "$(sed -nE 's/.*"offset": ([0-9]+).*/\1/p' <<<"$out" | awk '$1 % 4096 != 0')"
run 0 "$convert" meta.owf meta-copy.owf
check "OWF to OWF keeps the alignment" has "$("$inspect" --json meta-copy.owf)" '"alignment": 4096'
run 0 "$inspect" --json "$data/diff_a.npz"
check "foreign format named in JSON" has "$out" '"format": "npz"'
check "no license in npz: license.spdx is null" has "$(tr -d ' \n' <<<"$out")" '"license":\{"spdx":null\}'
digest_npz=$(sed -nE 's/.*"weights_digest": "([0-9a-f]{64})".*/\1/p' <<<"$out")
run 0 "$inspect" --json a.owf
check "the same weights digest for npz and its OWF conversion" has "$out" "\"weights_digest\": \"$digest_npz\""
run 0 "$inspect" "$data/stats.npy" --tensor stats
for stat in "count +6" "min +-2" "max +1" "mean +-0\.125" "NaN +1" "Inf +1" "zeros +1" "first 6: \[0, 1, -2, nan, inf, 0\.5\]"; do
  check "--tensor shows '$stat'" has "$out" "$stat"
done
run 0 "$inspect" stats.owf --tensor stats --json
check "--tensor --json" has "$out" '"nan": 1'
run 0 "$inspect" a.owf --tensor b
check "F16 statistics" has "$out" "max +4"
run 2 "$inspect" a.owf --tensor no.such.tensor
check "unknown tensor is named" has "$err" "no.such.tensor"
run 2 "$inspect" does-not-exist.owf
printf 'this is not a weights file at all' >garbage.owf
run 1 "$inspect" garbage.owf
check "garbage is refused with a reason" has "$err" "owf-inspect: [a-z_]+: "

echo "== owf-verify"
run 0 "$verify" a.owf
check "OK line with digest" has "$out" "^a\.owf: OK [0-9a-f]{64}$"
check "no progress bar when stderr is not a terminal" test -z "$err"
digest=$(sed -nE 's/.*OK ([0-9a-f]{64}).*/\1/p' <<<"$out")
run 0 "$verify" "$data/diff_a.npz"
check "foreign formats: says what was checked" has "$out" "OK $digest \(npz: structure checked, digest computed"
run 0 "$verify" --expect-digest "$digest" a.owf "$data/diff_a.npz"
run 1 "$verify" --expect-digest "$(tr 0-9a-f 1-9a-f0 <<<"$digest")" a.owf
check "digest expectation failure" has "$out" "FAILED digest_expectation_failed"
run 2 "$verify" --expect-digest xyz a.owf
# Corrupt one byte of the first tensor's data.
offset=$(json_int "$("$inspect" --json a.owf)" offset)
cp a.owf corrupt.owf
printf '\x55' | dd of=corrupt.owf bs=1 seek="$offset" conv=notrunc status=none
run 1 "$verify" a.owf corrupt.owf
check "one line per file" test "$(wc -l <<<"$out")" -eq 2
check "corrupt tensor named" has "$out" "^corrupt\.owf: FAILED tensor_digest_mismatch: .*tensor '"
check "good file still OK" has "$out" "^a\.owf: OK"
# A non-zero padding byte: right after the first tensor (F16 [4], 8 bytes) the
# padding up to the next 64-byte boundary begins.
stored=$(json_int "$("$inspect" --json a.owf)" stored_bytes)
cp a.owf padding.owf
printf '\x01' | dd of=padding.owf bs=1 seek=$((offset + stored)) conv=notrunc status=none
run 1 "$verify" padding.owf
check "padding byte checked" has "$out" "FAILED nonzero_padding: .*offset [0-9]+"
head -c 100 a.owf >truncated.owf
run 1 "$verify" truncated.owf
run 2 "$verify" a.owf missing.owf
check "I/O error reported" has "$out" "missing\.owf: FAILED io_error"
run 1 "$verify" --json a.owf corrupt.owf
check "verify --json" has "$out" '"ok": false'
check "verify --json names the error" has "$out" '"name": "tensor_digest_mismatch"'
run 0 "$verify" -q a.owf
check "--quiet prints nothing for good files" test -z "$out"

echo "== owf-diff"
run 0 "$diff" "$data/diff_a.npz" a.owf
check "identical weights across formats" has "$out" "weights identical"
check "license difference listed" has "$out" "license \+ spdx = MIT"
check "hyperparameter difference listed" has "$out" "hyperparameter \+ layers = 3"
run 0 "$diff" --weights-only "$data/diff_a.npz" a.safetensors
run 0 "$diff" a.owf a.gguf
run 1 "$diff" "$data/diff_a.npz" "$data/diff_b.npz"
check "only in A" has "$out" "only_a +I8 \[2\]"
check "only in B" has "$out" "only_b +F64 \[2, 2\]"
check "changed F32: max abs and rel difference" has "$out" "w: bytes differ; 2 of 12 elements differ, max abs diff 2\.75, max rel diff 2$"
check "changed F16" has "$out" "b: bytes differ; 1 of 4 elements differ, max abs diff 0\.5, max rel diff 0\.333333"
check "changed integers: values compared too" has "$out" "steps: bytes differ; 1 of 2 elements differ, max abs diff 1, max rel diff 0\.111111$"
check "verdict" has "$out" "weights differ: 0 tensors identical, 3 changed, 1 only in A, 1 only in B"
run 1 "$diff" --json "$data/diff_a.npz" "$data/diff_b.npz"
check "diff --json" has "$out" '"weights_identical": false'
check "diff --json max_abs_diff" has "$out" '"max_abs_diff": 2.75'
run 1 "$diff" a.owf stats.owf
run 2 "$diff" a.owf missing.owf
run 1 "$diff" a.owf corrupt.owf
check "a corrupt OWF file is an error, not a silent match" has "$err" "tensor_digest_mismatch"
run 1 "$diff" a.owf truncated.owf
check "a truncated file is invalid content (1), not a usage error" has "$err" "owf-diff: [a-z_]+: "

echo "== convert checks what it copies, and never clobbers what it must not"
run 1 "$convert" corrupt.owf from-corrupt.owf
check "a corrupt source is named" has "$err" "tensor_digest_mismatch"
check "no output from a corrupt source" test ! -e from-corrupt.owf
run 1 "$convert" corrupt.owf from-corrupt.owf --no-check
check "--no-check still checks the source" test ! -e from-corrupt.owf
run 1 "$convert" corrupt.owf from-corrupt.safetensors
check "no foreign output from a corrupt source" test ! -e from-corrupt.safetensors
cp corrupt.owf corrupt-inplace.owf
sum_corrupt=$(sha256sum <corrupt-inplace.owf)
run 1 "$convert" corrupt-inplace.owf corrupt-inplace.owf -f
check "converting a corrupt file over itself leaves it as it was" test "$(sha256sum <corrupt-inplace.owf)" = "$sum_corrupt"
check "no temporary files left by refused conversions" test -z "$(ls -A | grep -E 'owf-partial' || true)"
run 0 "$convert" a.owf a-inplace.owf && cp a.owf a-inplace.owf
run 0 "$convert" a-inplace.owf a-inplace.owf -f --alignment 128
run 0 "$verify" --expect-digest "$digest" a-inplace.owf
if [ -c /dev/null ]; then
  run 2 "$convert" a.owf /dev/null --to owf -f
  check "a device is never replaced" test -c /dev/null
  check "the refusal names the device" has "$err" "character device"
fi
mkdir -p a-dir.owf
run 2 "$convert" a.owf a-dir.owf -f
check "a directory is never replaced" test -d a-dir.owf
mkfifo a-fifo.owf 2>/dev/null && {
  run 2 "$convert" a.owf a-fifo.owf -f
  check "a FIFO is never replaced" test -p a-fifo.owf
}
ln -s does-not-exist.owf dangling.owf
run 2 "$convert" a.owf dangling.owf
check "a dangling symlink needs --force" test -L dangling.owf
run 0 "$convert" a.owf dangling.owf -f
check "with --force the link itself is replaced by the file" test -f dangling.owf -a ! -L dangling.owf
check "the link's target was not created" test ! -e does-not-exist.owf
cp a.owf blob.owf
ln -s blob.owf linked.owf
sum_blob=$(sha256sum <blob.owf)
run 0 "$convert" a2.owf linked.owf -f
check "a symlink target is replaced, the blob it pointed to is untouched" test "$(sha256sum <blob.owf)" = "$sum_blob"
check "the symlink is now a regular file" test -f linked.owf -a ! -L linked.owf
run 2 "$convert" a.owf out.bin
check "PyTorch output is refused as unsupported (2)" has "$err" "unsupported"
run 2 "$convert" a.owf out.txt
run 2 "$inspect" a-dir.owf
check "a directory as input says so" has "$err" "directory"
run 2 "$inspect" no-such-file.owf
check "I/O errors say why" has "$err" "No such file or directory"
run 0 "$convert" a.owf a-lossy.npz
check "npz: what was not written is said" has "$out" "npz has no place for: license, provenance, hyperparameters \\([0-9]+\\), metadata \\([0-9]+\\)"
run 0 "$convert" "$data/stats.npy" stats-renamed.owf --license MIT
run 0 "$convert" stats-renamed.owf other-name.npy
check "a .npy of any name: the tensor's new name is said" has "$out" "named 'other-name'"
npy_digest=$(sed -nE 's/.*weights digest ([0-9a-f]{64}).*/\1/p' <<<"$out")
run 0 "$convert" other-name.npy other-name.owf --license MIT
check "the printed digest is the .npy file's, and survives a round trip" has "$out" "weights digest $npy_digest \\(unchanged\\)"
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%064d\nsize 12345\n' 0 >lfs.safetensors
run 1 "$inspect" lfs.safetensors
check "a Git LFS pointer is named as such" has "$err" "Git LFS pointer"
printf '<!DOCTYPE html>\n<html><body>404</body></html>\n' >page.gguf
run 1 "$verify" page.gguf
check "an HTML page is named as such" has "$out" "HTML"
: >empty.npy
run 1 "$inspect" empty.npy
check "an empty file is named as such" has "$err" "empty"

echo "== names from files cannot rewrite the terminal"
# A safetensors file whose tensor name holds an escape sequence that would
# repaint the line as a success.
name='x\u001b[2K\r/dev/null: OK 0000'  # JSON escapes: ESC and CR in the name
hdr=$(printf '{"%s":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}' "$name")
{ printf "\\x$(printf %02x $(( ${#hdr} % 256 )))\\x$(printf %02x $(( ${#hdr} / 256 )))\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$hdr"; printf '\x07'; } >escape.safetensors
run 0 "$convert" escape.safetensors escape.owf --license MIT
eoff=$(json_int "$("$inspect" --json escape.owf)" offset)
printf '\x08' | dd of=escape.owf bs=1 seek="$eoff" conv=notrunc status=none
run 1 "$verify" escape.owf
check "no raw escape byte reaches the terminal" lacks "$out" $'\e'
check "the escape is shown escaped" has "$out" 'x\\x1b\[2K\\r'
run 0 "$inspect" escape.safetensors
check "inspect escapes names" lacks "$out" $'\e'
run 0 "$inspect" --json escape.safetensors
check "--json keeps the name exact (JSON-escaped)" has "$out" 'x\\u001b\[2K\\r'

echo "== GGUF split sets"
tiny_split_set .
run 0 "$inspect" whole.gguf
whole_digest=$(sed -nE 's/^ *weights digest +([0-9a-f]{64}).*/\1/p' <<<"$out")
check "the unsplit file has a digest" test -n "$whole_digest"
run 0 "$inspect" tiny-00002-of-00003.gguf
check "inspect of any split shows the whole set" has "$out" "files +3 \(3 GGUF splits: tiny-00001-of-00003.gguf ... tiny-00003-of-00003.gguf\)"
check "... with the unsplit file's digest" has "$out" "weights digest +$whole_digest"
check "... and the first split's hyperparameters, without split.*" has "$out" "llama.block_count"
check "... no split keys" lacks "$out" "split\.count"
run 0 "$inspect" --json tiny-00003-of-00003.gguf
check "--json lists the splits" has "$(tr -d ' \n' <<<"$out")" '"files":\["[^"]*tiny-00001-of-00003.gguf","[^"]*tiny-00002-of-00003.gguf","[^"]*tiny-00003-of-00003.gguf"\]'
run 0 "$convert" tiny-00001-of-00003.gguf tiny.owf --license MIT
check "convert of a split set writes one OWF file of all its tensors" has "$out" "owf 4 tensors.*weights digest $whole_digest"
run 0 "$verify" tiny.owf
run 0 "$convert" tiny-00003-of-00003.gguf merged.gguf
check "convert to GGUF merges the splits" has "$out" "gguf 4 tensors"
run 0 "$inspect" merged.gguf
check "the merged file has no split keys" lacks "$out" "split\."
mv tiny-00002-of-00003.gguf elsewhere.gguf
run 1 "$inspect" tiny-00001-of-00003.gguf
check "a missing split is named" has "$err" "foreign_format_invalid.*split 2 of 3, 'tiny-00002-of-00003.gguf', is missing"
run 1 "$inspect" elsewhere.gguf
check "a split under another name is refused, saying why" has "$err" "does not end in '-NNNNN-of-NNNNN.gguf'"

echo "== owf-edit"
cp a.owf e.owf
before_size=$(stat -c %s e.owf)
data_end=$("$inspect" --json e.owf | awk -F': ' '/"offset"|"stored_bytes"/ {gsub(/,/, "", $2); v[$1] = $2} /"stored_bytes"/ {e = v["      \"offset\""] + $2; if (e > m) m = e} END {print m}')
run 0 "$edit" e.owf --license Apache-2.0 --hparam layers=4 --hparam new.key=[1.5,2.5] --unset-hparam act \
  --metadata note=edited --unset-metadata origin --name renamed --description "edited in place"
check "edit reports the unchanged digest" has "$out" "weights digest $digest \(unchanged\)"
run 0 "$verify" --expect-digest "$digest" e.owf
run 0 "$inspect" --json e.owf
check "license changed" has "$out" '"spdx": "Apache-2.0"'
check "license name kept" has "$out" '"name": "MIT License"'
check "hyperparameter set" has "$out" '"layers": 4'
check "typed list set" has "$(tr -d ' \n' <<<"$out")" '"new.key":\[1.5,2.5\]'
check "hyperparameter removed" lacks "$out" '"act":'
check "metadata set" has "$out" '"note": "edited"'
check "metadata removed" lacks "$out" '"origin":'
check "provenance set" has "$out" '"name": "renamed"'
check "other provenance kept" has "$out" '"architecture": "mlp"'
check "header and tensor bytes untouched" cmp -s -n "$data_end" a.owf e.owf
check "no temporary files left" test -z "$(ls -A | grep -E 'owf-edit|owf-partial' || true)"
sum_before=$(sha256sum e.owf)
run 2 "$edit" e.owf --license "BAD LICENSE"
run 2 "$edit" e.owf --unset-hparam no.such.key
run 2 "$edit" e.owf --hparam "bad key=1"
check "refused edits leave the file as it was" test "$(sha256sum e.owf)" = "$sum_before"
run 0 "$edit" e.owf
check "nothing to change" has "$out" "nothing to change"
run 2 "$edit" "$data/diff_a.npz" --license MIT
check "edit refuses foreign formats" has "$err" "owf-convert"
# Editing reads no tensor bytes: a corrupt tensor stays corrupt (and detectable).
cp corrupt.owf corrupt-edit.owf
run 0 "$edit" corrupt-edit.owf --license Apache-2.0 --no-sync
run 1 "$verify" corrupt-edit.owf
check "corruption is still reported after an edit" has "$out" "tensor_digest_mismatch"
run 2 "$edit" missing.owf --license MIT
check "file size changes only by the manifest" test "$(stat -c %s e.owf)" -gt "$data_end"
chmod 640 e.owf
run 0 "$edit" e.owf --metadata mode=kept
check "an edited file keeps its mode" test "$(stat -c %a e.owf)" = 640
cp e.owf edit-blob.owf
ln -s edit-blob.owf edit-link.owf
sum_edit_blob=$(sha256sum <edit-blob.owf)
run 0 "$edit" edit-link.owf --metadata via=link
check "owf-edit on a symlink replaces the link, not the file it points to" test "$(sha256sum <edit-blob.owf)" = "$sum_edit_blob"
check "the edited link is now a regular file" test -f edit-link.owf -a ! -L edit-link.owf
: "$before_size"

echo "== a larger file: progress bar, crash during an edit"
# A 288 MiB .npy of zeros (sparse), written with the shell alone.
elements=$((72 * 1024 * 1024))
dict="{'descr': '<f4', 'fortran_order': False, 'shape': ($elements,), }"
pad=$(( (64 - (10 + ${#dict} + 1) % 64) % 64 ))
{ printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#dict} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#dict} + pad + 1) / 256 )))"
  printf '%s%*s\n' "$dict" "$pad" ""; } >zeros.npy
truncate -s $(( $(stat -c %s zeros.npy) + elements * 4 )) zeros.npy
run 0 "$convert" zeros.npy big.owf --license MIT
run 0 "$verify" big.owf
check "no progress bar when stderr is piped, even for a large file" test -z "$err"
big_digest=$(sed -nE 's/.*OK ([0-9a-f]{64}).*/\1/p' <<<"$out")
# On a terminal (util-linux `script` provides one, where it can) a bar appears.
tty_out=""
if command -v script >/dev/null && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
  tty_out=$(script -qec "$verify big.owf" /dev/null </dev/null 2>&1 || true)
fi
if [ -n "$tty_out" ]; then
  check "a progress bar on a terminal" has "$tty_out" "\[#*[ #]*\] +[0-9]+%"
else
  echo "(no pseudo-terminal available: progress bar not checked)"
fi
# Kill owf-edit while it works: the file must then be the old one or the new
# one, complete either way.
"$edit" big.owf --license Apache-2.0 >/dev/null 2>&1 &
edit_pid=$!
sleep 0.2
kill -9 "$edit_pid" 2>/dev/null
wait "$edit_pid" 2>/dev/null
run 0 "$verify" --expect-digest "$big_digest" big.owf
check "after a killed edit the license is the old or the new one" \
  has "$("$inspect" --json big.owf)" '"spdx": "(MIT|Apache-2.0)"'
rm -f .big.owf.owf-partial-* big.owf zeros.npy

if [ -n "$corpus" ] && [ -f "$corpus/SafeTensors.jl/model.safetensors" ]; then
  echo "== corpus dtypes"
  st=$corpus/SafeTensors.jl/model.safetensors
  if "$inspect" "$st" >/dev/null 2>&1; then
    names=$("$inspect" --json "$st" | sed -nE 's/.*"name": "([^"]+)".*/\1/p')
    for dt in BF16 F8_E4M3FN F8_E5M2 F16 BOOL; do
      n=$("$inspect" --json "$st" | tr -d '\n ' | grep -oE "\"dtype\":\"$dt\",\"element_count\":[0-9]+,\"logical_bytes\":[0-9]+,\"name\":\"[^\"]+\"" | head -1 | sed -E 's/.*"name":"([^"]+)"/\1/')
      [ -n "$n" ] || continue
      run 0 "$inspect" "$st" --tensor "$n"
      check "--tensor on $dt ($n) gives statistics" has "$out" "count +[0-9]"
    done
    : "$names"
  fi
fi

if [ -n "$corpus" ] && [ -f "$corpus/SafeTensors.jl/model.safetensors" ]; then
  echo "== owf-convert --max-shard-size"
  st=$corpus/SafeTensors.jl/model.safetensors
  mkdir sharded
  run 0 "$convert" "$st" sharded/model.safetensors --max-shard-size 1KB
  check "a shard set: 6 shards of the 36 tensors, the source's digest" has "$out" "safetensors 36 tensors, 6 shards, .*\(unchanged\)"
  check "... each file written is listed, the index last" has "$(tail -1 <<<"$out")" "wrote sharded/model.safetensors.index.json"
  check "... shards named as transformers names them" has "$out" "wrote sharded/model-00006-of-00006.safetensors"
  check "... no single file beside the set" test ! -e sharded/model.safetensors
  check "... the index in transformers' layout" has "$(head -3 sharded/model.safetensors.index.json)" '^\{$|^  "metadata": \{$|^    "total_size": 4305$'
  run 0 "$diff" --weights-only sharded "$st"
  check "the set reads back as the source's weights" has "$out" "."
  run 2 "$convert" "$st" sharded/model.safetensors --max-shard-size 1KB
  check "an existing shard needs --force, named" has "$err" "model-00001-of-00006.safetensors exists.*--force"
  run 0 "$convert" "$st" sharded/model.safetensors --max-shard-size 2KiB --force
  check "--force replaces the set" has "$out" "3 shards"
  run 0 "$convert" "$st" one.safetensors --max-shard-size 1GB
  check "everything in one shard: one ordinary file" test -f one.safetensors -a ! -e one.safetensors.index.json
  for bad in 0 -5GB 1.5GB 5XB 99999999999TB ''; do
    run 2 "$convert" "$st" bad.safetensors --max-shard-size "$bad"
    check "--max-shard-size '$bad' is refused, saying why" has "$err" "--max-shard-size: '$bad'"
  done
  check "no output after a bad size" test ! -e bad.safetensors
  run 2 "$convert" "$st" split.npz --max-shard-size 1KB
  check "NumPy targets are not written in shards" has "$err" "unsupported: npz files are not written in shards"

  echo "== owf-edit on an OWF shard set"
  mkdir owfset
  run 0 "$convert" "$st" owfset/model.owf --license MIT --max-shard-size 1KB
  set_digest=$(sed -nE 's/.*weights digest ([0-9a-f]{64}).*/\1/p' <<<"$out")
  run 0 "$edit" owfset/model-00003-of-00006.owf --license Apache-2.0 --metadata note=set-wide --name sharded
  check "owf-edit on a shard edits the whole set" has "$out" "every shard of the set \(6\).*weights digest $set_digest \(unchanged\)"
  for shard in owfset/model-0000[1-6]-of-00006.owf; do
    check "$shard has the new information" has "$("$inspect" --json "$shard")" '"note": "set-wide"'
  done
  run 0 "$convert" owfset/model-00001-of-00006.owf joined.owf
  check "the edited set opens whole, same weights" has "$out" "weights digest $set_digest"
  run 0 "$inspect" --json joined.owf
  check "... with the new license" has "$out" '"spdx": "Apache-2.0"'
  run 0 "$edit" owfset --metadata note=from-the-directory
  check "owf-edit on the set's directory" has "$("$inspect" --json owfset/model-00006-of-00006.owf)" '"note": "from-the-directory"'
  check "no temporary files left in the set" test "$(ls -A owfset | wc -l)" -eq 6
  sums_before=$(cd owfset && sha256sum -- *)
  mv owfset/model-00006-of-00006.owf shard6.owf
  run 2 "$edit" owfset/model-00001-of-00006.owf --metadata note=never
  check "a missing shard is named" has "$err" "model-00006-of-00006.owf"
  mv shard6.owf owfset/model-00006-of-00006.owf
  check "a refused set edit changes no shard and leaves no temporary file" \
    test "$(cd owfset && sha256sum -- * .[!.]* 2>/dev/null)" = "$sums_before"

  echo "== owf-verify, owf-inspect and owf-diff on an OWF shard set"
  run 0 "$verify" owfset/model-00004-of-00006.owf
  check "owf-verify of one shard verifies the set" has "$out" "OK $set_digest \(a shard set of 6 files, all verified\)"
  run 0 "$inspect" owfset
  check "owf-inspect lists the shards" has "$out" "shards \(6\)"
  run 0 "$diff" owfset/model-00002-of-00006.owf "$st"
  check "a set and the unsharded file hold the same weights" has "$out" "identical"
  cp owfset/model-00005-of-00006.owf shard5.bak
  printf '\x55' | dd of=owfset/model-00005-of-00006.owf bs=1 seek=64 conv=notrunc status=none
  run 1 "$verify" owfset/model-00001-of-00006.owf
  check "a flipped byte in shard 5 fails the set, naming it" has "$out" "FAILED tensor_digest_mismatch: shard 5 of 6 'model-00005-of-00006.owf'"
  run 1 "$convert" owfset/model-00001-of-00006.owf corrupt-copy.owf
  check "... and no copy of the corrupt set is written" test ! -e corrupt-copy.owf
  cp shard5.bak owfset/model-00005-of-00006.owf
  mv owfset/model-00002-of-00006.owf owfset/model-00002-of-00006.moved
  run 2 "$verify" owfset/model-00001-of-00006.owf
  check "a missing shard is named by owf-verify" has "$out" "model-00002-of-00006.owf: cannot open"
  mv owfset/model-00002-of-00006.moved owfset/model-00002-of-00006.owf
  cp owfset/model-00003-of-00006.owf owfset/stray.owf
  run 1 "$verify" owfset
  check "an extra .owf file in the set's directory is named" has "$out" "stray.owf is not a shard of the set"
  rm owfset/stray.owf
fi

if [ -n "$corpus" ] && [ -f "$corpus/candle/test_with_key.pt" ] && "$inspect" "$corpus/candle/test_with_key.pt" >/dev/null 2>&1; then
  echo "== PyTorch --select"
  run 0 "$inspect" --json "$corpus/candle/test_with_key.pt"
  check "without --select the key is part of the name" has "$out" '"name": "model_state_dict.test"'
  run 0 "$inspect" --json --select model_state_dict "$corpus/candle/test_with_key.pt"
  check "--select model_state_dict" has "$out" '"name": "test"'
  run 0 "$convert" --select model_state_dict "$corpus/candle/test_with_key.pt" selected.owf --license MIT
  run 0 "$diff" --weights-only selected.owf "$corpus/candle/test.pt"
  run 2 "$inspect" --select x "$data/diff_a.npz"
fi

if [ -n "$corpus" ] && [ -f "$corpus/python-gen-worker/stories260K.gguf" ]; then
  echo "== casts, tensor choice and comparison by value"
  f32=$corpus/python-gen-worker/stories260K.gguf q8=$corpus/llama4j/tinyllamas-stories-260k-q8_0.gguf
  run 0 "$convert" "$f32" f32.owf --license MIT
  f32_digest=$(sed -nE 's/.*weights digest ([0-9a-f]{64}).*/\1/p' <<<"$out")
  run 0 "$convert" "$f32" bf16.owf --license MIT --dtype bf16
  check "a cast prints the new digest" has "$out" "owf 48 tensors, .*weights digest [0-9a-f]{64}$"
  check "a cast says it is lossy and names the source's digest" has "$out" "lossy: 48 tensors cast to BF16, from weights digest $f32_digest"
  f32_bytes=$(stat -c %s f32.owf) bf16_bytes=$(stat -c %s bf16.owf)
  check "the BF16 file is about half the F32 one ($bf16_bytes / $f32_bytes)" test $((bf16_bytes * 100 / f32_bytes)) -le 55
  run 0 "$inspect" --json bf16.owf
  check "the cast is recorded in metadata" has "$out" "\"owf.cast.from_weights_digest\": \"$f32_digest\""
  check "the cast dtype is recorded" has "$out" '"owf.cast.dtype": "BF16"'
  check "the source is a base model" has "$(tr -d ' \n' <<<"$out")" "\"weights_digest\":\"$f32_digest\""
  run 0 "$diff" --weights-only bf16.owf "$f32" --rtol 1e-2
  check "BF16 against F32 within rtol 1e-2" has "$out" "weights within tolerance: 0 tensors identical, 48 within tolerance, 0 beyond"
  run 1 "$diff" --weights-only bf16.owf "$f32"
  check "without a tolerance the bytes differ" has "$out" "weights differ: 0 tensors identical, 48 changed"
  run 1 "$diff" --weights-only bf16.owf f32.owf --rtol 1e-3 --worst 2
  check "beyond tolerance: counted per tensor" has "$out" "blk.0.attn_k.weight: dtype BF16 -> F32; 2,048 of 2,048 elements differ, .* [0-9,]+ beyond tolerance"
  check "beyond tolerance: the worst elements with index, position and both values" has "$out" "^      [0-9]+ \([0-9]+, [0-9]+\): A -?[0-9.e-]+, B -?[0-9.e-]+$"
  run 1 "$diff" --json --weights-only bf16.owf f32.owf --rtol 1e-3 --worst 1
  check "--json within_tolerance" has "$out" '"within_tolerance": false'
  check "--json beyond_tolerance counts" has "$out" '"beyond_tolerance": [1-9]'
  check "--json worst elements" has "$(tr -d ' \n' <<<"$out")" '"worst":\[\{"a":-?[0-9.e-]+,"b":-?[0-9.e-]+,"index":[0-9]+\}\]'
  run 0 "$diff" --json --weights-only bf16.owf f32.owf --atol 0.02
  check "--json tolerance" has "$(tr -d ' \n' <<<"$out")" '"tolerance":\{"atol":0.02,"rtol":0.0\}'
  run 2 "$diff" bf16.owf f32.owf --rtol -1
  check "a negative tolerance is a usage error" has "$err" "--rtol must be a finite number >= 0"

  run 0 "$convert" "$q8" q8-f32.owf --license MIT --dtype f32
  check "dequantization counts only the quantized tensors" has "$out" "lossy: 37 tensors cast to F32"
  run 0 "$inspect" "$q8" --tensor blk.0.attn_q.weight --count 4
  check "--tensor on Q8_0 says it dequantized" has "$out" "Q8_0 \[64, 64\] +role weight +\(values dequantized from Q8_0\)"
  q8_stats=$(grep -E "min|max|mean|std|first" <<<"$out")
  run 0 "$inspect" q8-f32.owf --tensor blk.0.attn_q.weight --count 4
  check "the F32 copy of a Q8_0 tensor has its statistics" test "$q8_stats" = "$(grep -E "min|max|mean|std|first" <<<"$out")"
  run 0 "$inspect" --json "$q8" --tensor blk.0.attn_q.weight
  check "--tensor --json says it dequantized" has "$out" '"values": "dequantized from Q8_0"'
  # The five ffn_down tensors (rows of 172 do not fill Q8_0 blocks) are read
  # flat from the GGUF and take their [64, 172] shape back once cast.
  run 1 "$diff" --weights-only "$q8" q8-f32.owf --atol 0
  check "the F32 copy equals the Q8_0 values exactly" has "$out" "weights differ beyond tolerance: 11 tensors identical, 32 within tolerance, 5 beyond"
  check "... the five beyond are the flat rows with their shape back" has "$out" "blk.4.ffn_down.weight: dtype Q8_0 -> F32; shape \[11008\] -> \[64, 172\]"

  run 0 "$convert" "$f32" part.safetensors --include 'blk.[01].*' --exclude '*ffn*'
  check "--include/--exclude: 10 tensors converted" has "$out" "safetensors 10 tensors, "
  check "--include/--exclude: tensors left out are counted" has "$out" "note: 38 tensors of .* left out"
  run 1 "$diff" --weights-only part.safetensors "$f32"
  check "the chosen tensors are copied exactly" has "$out" "weights differ: 10 tensors identical, 0 changed, 0 only in A, 38 only in B"
  run 1 "$diff" --weights-only part.safetensors "$f32" --rtol 1e-2
  check "a tensor missing from one side fails a tolerance comparison" has "$out" "weights differ beyond tolerance: 10 tensors identical, 0 within tolerance, 0 beyond, 0 only in A, 38 only in B"
  run 2 "$convert" "$f32" none.owf --license MIT --include 'blk.9.*'
  check "a pattern that matches nothing is named" has "$err" "include pattern 'blk.9.\*' matches no tensor"
  run 2 "$convert" "$f32" none.owf --license MIT --exclude '*'
  check "choosing no tensor is an error" has "$err" "leave no tensor"
  check "no output after a refused choice" test ! -e none.owf
  run 2 "$convert" "$f32" none.owf --license MIT --dtype q8_0
  check "--dtype names the casts it knows" has "$err" "--dtype: 'q8_0' is not one of f32, f16, bf16"
  run 2 "$convert" "$f32" none.owf --license MIT --dtype ''
  check "an empty --dtype is refused, not ignored" has "$err" "--dtype: '' is not one of"
  run 0 "$convert" "$f32" brackets.safetensors --include '[b]lk.0.attn_[qk].weight'
  check "a glob that is one bracket expression is taken as written" has "$out" "safetensors 2 tensors, "
  run 2 "$convert" "$f32" none.owf --license MIT --include '[blk.0.attn_q.weight,blk.0.attn_k.weight]'
  check "... not as a list of two values" has "$err" "matches no tensor"
  run 0 "$convert" "$q8" q8-f16.gguf --dtype f16
  check "Q8_0 cast to F16 converts to GGUF (the flat rows take their shape back)" has "$out" "gguf 48 tensors"
  run 0 "$inspect" q8-f16.gguf
  check "... with the tensor's real shape" has "$out" "blk.0.ffn_down.weight .*F16 +\[64, 172\]"

  st=$corpus/SafeTensors.jl/model.safetensors
  run 1 "$convert" "$st" all.gguf
  check "GGUF refuses a dtype it cannot store, naming the tensor" has "$err" "tensor 'float8_e4m3fn_3' has dtype F8_E4M3FN, which GGUF cannot store"
  check "... and suggests --exclude or --dtype" has "$err" "hint: --exclude NAME .*--dtype f32"
  check "no GGUF written" test ! -e all.gguf
  run 0 "$convert" "$st" all.gguf --dtype f16 --exclude 'bool_*' --exclude 'uint8_*'
  check "with --exclude and --dtype the rest converts" has "$out" "gguf 30 tensors"
  run 0 "$inspect" all.gguf
  check "integers keep their dtype in a cast" has "$out" "int64_3 .*I64"
  corrupt_cast=$(mktemp -d) && cp f32.owf "$corrupt_cast/c.owf"
  printf '\xff\xff\xff\xff' | dd of="$corrupt_cast/c.owf" bs=1 seek=70000 conv=notrunc status=none
  run 1 "$convert" "$corrupt_cast/c.owf" c-bf16.owf --dtype bf16
  check "a corrupt source is not cast" has "$err" "tensor_digest_mismatch"
  check "no output from a corrupt source" test ! -e c-bf16.owf
  rm -rf "$corrupt_cast"
fi

echo "tools cli: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
