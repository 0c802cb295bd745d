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
