# What the tools' test scripts share: checks that count failures, and a
# runner that keeps a tool's output. Sourced after $work is set.
failures=0 checks=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1
  shift
  checks=$((checks + 1))
  if ! "$@"; then
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}
# run EXPECTED_EXIT CMD...: runs a tool, keeps stdout/stderr in $out/$err.
run() {
  local expected=$1
  shift
  "$@" >"$work/.out" 2>"$work/.err"
  rc=$?
  out=$(cat "$work/.out")
  err=$(cat "$work/.err")
  checks=$((checks + 1))
  if [ "$rc" -ne "$expected" ]; then
    echo "FAIL: '$*' exited $rc, expected $expected"
    echo "  stdout: ${out:0:400}"
    echo "  stderr: ${err:0:400}"
    failures=$((failures + 1))
  fi
}
has() { grep -qE -- "$2" <<<"$1"; }
# GGUF files built byte by byte: little-endian integers and GGUF strings.
le() { local i; for ((i = 0; i < $2; i++)); do printf "\\x$(printf %02x $((($1 >> (8 * i)) & 255)))"; done; }
gstr() { le ${#1} 8; printf '%s' "$1"; }
# gguf_file PATH KVS... -- TENSORS...: a GGUF v3 file; a KV is KEY:TYPE:VALUE
# (u16, i32 or u32), a tensor NAME:FILLBYTE is 4 F32 values of that byte.
gguf_file() {
  local path=$1 kvs=() tensors=() kv t k=0 i key type value
  shift
  while [ "$1" != -- ]; do kvs+=("$1"); shift; done
  shift
  tensors=("$@")
  { printf 'GGUF'; le 3 4; le ${#tensors[@]} 8; le ${#kvs[@]} 8
    for kv in "${kvs[@]}"; do
      IFS=: read -r key type value <<<"$kv"
      gstr "$key"
      case $type in u16) le 2 4; le "$value" 2 ;; i32) le 5 4; le "$value" 4 ;; u32) le 4 4; le "$value" 4 ;; esac
    done
    for t in "${tensors[@]}"; do gstr "${t%%:*}"; le 1 4; le 4 8; le 0 4; le $((32 * k)) 8; k=$((k + 1)); done
  } >"$path"
  truncate -s $((($(stat -c %s "$path") + 31) / 32 * 32)) "$path"
  for t in "${tensors[@]}"; do
    { for ((i = 0; i < 16; i++)); do printf "\\x${t##*:}"; done; head -c 16 /dev/zero; } >>"$path"
  done
}
# DIR/whole.gguf, 4 tensors, and the same model split in three as gguf-split
# would: DIR/tiny-00001-of-00003.gguf (the model's keys) ... -00003-of-00003.gguf.
tiny_split_set() {
  local dir=$1 split=(split.count:u16:3 split.tensors.count:i32:4)
  local model=(llama.context_length:u32:64 llama.block_count:u32:1)
  gguf_file "$dir/whole.gguf" "${model[@]}" -- a.weight:11 b.weight:22 c.weight:33 d.weight:44
  gguf_file "$dir/tiny-00001-of-00003.gguf" "${model[@]}" split.no:u16:0 "${split[@]}" -- a.weight:11
  gguf_file "$dir/tiny-00002-of-00003.gguf" split.no:u16:1 "${split[@]}" -- b.weight:22 c.weight:33
  gguf_file "$dir/tiny-00003-of-00003.gguf" split.no:u16:2 "${split[@]}" -- d.weight:44
}
