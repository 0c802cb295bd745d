#!/usr/bin/env bash
# The tools on http(s):// URLs: nginx (started here on loopback, with a
# temporary configuration and document root) serves corpus files and
# generated ones; owf_fault_server serves what nginx never does (dropped
# connections, stalls, ignored ranges, wrong Content-Range, a file that
# changes, 503, redirect loops, long bodies, authentication).
#
# usage: http_test.sh TOOLS_DIR FAULT_SERVER CORPUS_DIR   (exit 77: skipped)
set -uo pipefail
tools=$1
fault_server=$2
corpus=$3
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx" ]; then
  echo "nginx is not installed: skipped"
  exit 77
fi
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tools/script_checks.sh"
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
cd "$work" || exit 2

digest_of() { grep -oE '[0-9a-f]{64}' <<<"$1" | head -1; }

# --- test files -------------------------------------------------------------
mkdir -p www
safetensors big.safetensors a:2097152 b:2097152 c:1048576 d:1000
specs=()
# Long names: the manifest (about 1.7 MiB) is larger than the open
# request's last 1 MiB, so opening takes the second request.
long=model.encoder.layers.attention.projections.$(printf 'x%.0s' $(seq 1 200))
for i in $(seq -w 1 5000); do specs+=("$long.t$i:4"); done
safetensors many.safetensors "${specs[@]}"
cp "$corpus/burn/mnist.safetensors" www/mnist.safetensors
cp "$corpus/llama4j/tinyllamas-stories-260k-q8_0.gguf" www/stories.gguf
tiny_split_set www
for f in mnist big many; do
  src=$f.safetensors
  [ -e "www/$src" ] && src=www/$src
  "$tools/owf-convert" "$src" "www/$f.owf" --license MIT -q || {
    echo "cannot make $f.owf"
    exit 2
  }
done
chmod -R a+rX www

# --- nginx ------------------------------------------------------------------
if command -v openssl >/dev/null; then
  make_certificate
fi
start_nginx
base=http://127.0.0.1:$port
requests() { wc -l <nginx/access.log; }

# --- nginx: inspect, verify, diff, convert ----------------------------------
# OWF files open in at most 2 requests; foreign formats read their headers
# in a bounded number (inspect also reads their tensors for the digest).
for f in mnist.owf many.owf big.owf mnist.safetensors stories.gguf; do
  run 0 "$tools/owf-verify" "www/$f"
  local_digest=$(digest_of "$out")
  before=$(requests)
  run 0 "$tools/owf-inspect" "$base/$f"
  opened=$(($(requests) - before))
  check "$f: inspect URL shows the local digest" has "$out" "$local_digest"
  echo "$f ($(stat -c %s "www/$f") bytes): owf-inspect URL made $opened request(s)"
  before=$(requests)
  run 0 "$tools/owf-verify" "$base/$f"
  check "$f: verify URL gives the local digest" has "$out" "OK $local_digest"
  echo "$f: owf-verify URL made $(($(requests) - before)) request(s)"
  run 0 "$tools/owf-diff" "$base/$f" "www/$f"
  case $f in
    *.owf)
      check "$f: inspect URL costs at most 2 requests (took $opened)" test "$opened" -le 2
      copy=$f.copy.safetensors
      run 0 "$tools/owf-convert" "$base/$f" "$copy" -q
      ;;
    *)
      copy=$f.copy.owf
      run 0 "$tools/owf-convert" "$base/$f" "$copy" --license MIT -q
      ;;
  esac
  run 0 "$tools/owf-verify" "$copy"
  check "$f: converted from its URL, same weights" has "$out" "OK $local_digest"
done
run 0 "$tools/owf-inspect" --json "$base/mnist.owf"
check "inspect --json of a URL names the URL" has "$out" "\"file\": \"$base/mnist.owf\""
# A GGUF split set opens from the URL of any split: the others are fetched
# beside it, with the same query.
run 0 "$tools/owf-inspect" www/whole.gguf
split_digest=$(digest_of "$(grep "weights digest" <<<"$out")")
run 0 "$tools/owf-inspect" "$base/tiny-00002-of-00003.gguf?download=true"
check "a split's URL opens the set" has "$out" "files +3 \(3 GGUF splits: tiny-00001-of-00003.gguf ... tiny-00003-of-00003.gguf\)"
check "... with the unsplit file's digest" has "$out" "weights digest +$split_digest"
check "... size unknown rather than made up" has "$out" "file size +unknown"
check "every split was asked for with the query" test "$(grep -c 'GET /tiny-0000[123]-of-00003.gguf?download=true' nginx/access.log)" -ge 3
run 0 "$tools/owf-inspect" --json "$base/tiny-00003-of-00003.gguf"
check "--json lists the splits' URLs" has "$out" "\"$base/tiny-00001-of-00003.gguf\""
mv www/tiny-00003-of-00003.gguf www/gone.gguf
run 2 "$tools/owf-inspect" "$base/tiny-00001-of-00003.gguf"
check "a missing split's URL is named" has "$err" "split 'tiny-00003-of-00003.gguf'.*404"
# Read-only: nothing is written to a URL.
run 2 "$tools/owf-convert" www/mnist.owf "$base/out.safetensors"
check "convert to a URL is refused" has "$err" "read-only"
run 2 "$tools/owf-edit" "$base/mnist.owf" --license Apache-2.0
check "edit of a URL is refused" has "$err" "read-only"
: >www/empty.owf
run 1 "$tools/owf-inspect" "$base/empty.owf"
check "an empty remote file is said to be empty" has "$err" "empty"
run 2 "$tools/owf-inspect" "$base/missing.owf"
check "a missing URL says 404" has "$err" "404"
run 2 "$tools/owf-convert" "$base/missing.owf" "missing.safetensors"
check "nothing written for a missing URL" test ! -e missing.safetensors

# --- HTTPS with a self-signed certificate ---------------------------------------
if [ -e cert.pem ]; then
  tls=https://127.0.0.1:$tls_port
  run 2 "$tools/owf-inspect" "$tls/mnist.owf"
  check "an unknown certificate is refused" has "$err" "certificate"
  run 0 "$tools/owf-verify" --ca-file cert.pem "$tls/mnist.owf"
  run 0 env OWF_CA_FILE=cert.pem "$tools/owf-inspect" "$tls/mnist.owf"
else
  echo "openssl not installed: HTTPS not tested"
fi

# --- a server that misbehaves -------------------------------------------------
start_fault_server() {  # start_fault_server FILE -> $fault (base URL)
  rm -f port
  "$fault_server" "$1" port &
  pids+=($!)
  for _ in $(seq 1 50); do
    [ -s port ] && break
    sleep 0.1
  done
  fault=http://127.0.0.1:$(cat port)
}
run 0 "$tools/owf-verify" www/big.owf
big_digest=$(digest_of "$out")
start_fault_server www/big.owf
run 0 "$tools/owf-verify" "$fault/ok/big.owf"
check "ok: verified" has "$out" "OK $big_digest"
run 0 "$tools/owf-verify" "$fault/redirect/big.owf"
check "a redirect is followed" has "$out" "OK $big_digest"
run 0 "$tools/owf-verify" "$fault/drop/big.owf"
check "connections dropped mid-body are retried" has "$out" "OK $big_digest"
run 2 "$tools/owf-verify" "$fault/drop-always/big.owf"
check "a connection that always drops: refused after the retries" has "$out" "attempts"
run 0 env OWF_HTTP_TIMEOUT=1 "$tools/owf-verify" "$fault/stall/big.owf"
check "a stalled answer times out and is retried" has "$out" "OK $big_digest"
run 2 "$tools/owf-verify" "$fault/ignore-range/big.owf"
check "a server ignoring Range is refused" has "$out" "ignored the Range request"
run 2 "$tools/owf-verify" "$fault/wrong-range/big.owf"
check "a wrong Content-Range is refused" has "$out" "Content-Range"
run 2 "$tools/owf-verify" "$fault/long/big.owf"
check "a body longer than asked is refused" has "$out" "more bytes than"
run 2 "$tools/owf-verify" "$fault/change/big.owf"
check "a file changed between requests (If-Match): refused" has "$out" "changed on the server"
run 2 "$tools/owf-verify" "$fault/change-ignore/big.owf"
check "a file changed between requests (ETag): refused" has "$out" "changed on the server"
run 1 "$tools/owf-verify" "$fault/change-quiet/big.owf"
check "a file changed without validators: its digests refuse it" has "$out" "tensor_digest_mismatch"
run 1 "$tools/owf-convert" "$fault/change-quiet/big.owf" changed.safetensors
check "nothing written from a changed file" test ! -e changed.safetensors
run 0 "$tools/owf-verify" "$fault/busy/big.owf"
check "503 with Retry-After, then served" has "$out" "OK $big_digest"
run 2 "$tools/owf-verify" "$fault/loop/big.owf"
check "a redirect loop is refused" has "$out" "redirects"
run 2 "$tools/owf-convert" "$fault/drop-always/big.owf" dropped.safetensors
check "nothing written when the transfer fails" test ! -e dropped.safetensors
check "no temporary file left" test -z "$(ls -A | grep -v -E '^(www|nginx|port|cert.pem|key.pem|.*\.safetensors|.*\.owf|\.out|\.err)$')"
run 2 "$tools/owf-inspect" "$fault/auth/big.owf"
check "no token: access denied" has "$err" "access denied"
run 2 env OWF_HTTP_TOKEN=wrong-token-5f2a "$tools/owf-inspect" --json "$fault/auth/big.owf"
check "a token is never printed" bash -c '! grep -q wrong-token-5f2a <<<"$0"' "$out$err"
run 0 env OWF_HTTP_TOKEN=s3cret "$tools/owf-verify" "$fault/auth/big.owf"
run 0 "$tools/owf-verify" --header "Authorization: Bearer s3cret" "$fault/auth/big.owf"
# A small file whose server ignores Range is read whole in one request.
start_fault_server www/mnist.owf
run 0 "$tools/owf-verify" "$fault/ignore-range/mnist.owf"
run 0 "$tools/owf-verify" "$fault/ok/mnist.owf"

[ -n "${HTTP_TEST_PAUSE:-}" ] && { echo "fault=$fault base=$base"; sleep "$HTTP_TEST_PAUSE"; }
echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
