#!/usr/bin/env bash
# Signatures end to end with the tools (owf-sign, owf-verify, owf-inspect),
# and an independent check: the message of spec/signatures.md §4 and the
# DSSE PAE of §6 are built here with printf and xxd, and the signatures are
# verified with the openssl command line, not with the library.
#
# usage: signature_test.sh TOOLS_DIR DATA_DIR KEYS_DIR
set -uo pipefail
tools=$1
data=$2
keys=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/script_checks.sh"
cd "$work" || exit 2

inspect=$tools/owf-inspect verify=$tools/owf-verify convert=$tools/owf-convert edit=$tools/owf-edit sign=$tools/owf-sign
# The N-th (1-based) string value of KEY in JSON text.
json_str() { sed -nE "s/.*\"$2\": \"([^\"]*)\".*/\1/p" <<<"$1" | sed -n "${3:-1}p"; }

echo "== owf-sign and owf-verify"
run 0 "$sign" --help
run 0 "$convert" "$data/diff_a.npz" m.owf --license MIT --hparam layers=3
run 1 "$verify" m.owf --require-signature --trusted-key "$keys/ed25519.pub.pem"
check "unsigned and required: says so" has "$out" "no signature"
run 0 "$sign" m.owf --key "$keys/ed25519.pem"
check "sign reports the key and what it covers" has "$out" "ed25519 signature by key [0-9a-f]{64} \(weights\+info\) embedded"
run 0 "$sign" m.owf --key "$keys/p256.pem" --weights-only
run 0 "$verify" m.owf
check "without trusted keys: present, not checked" has "$out" "untrusted_key: present, not checked"
run 1 "$verify" m.owf --require-signature
run 0 "$verify" m.owf --require-signature --trusted-key "$keys/ed25519.pub.pem" --trusted-key "$keys/p256.pub.pem"
check "both signatures valid" test "$(grep -c ': valid: ' <<<"$out")" = 2
run 1 "$verify" m.owf --require-signature --trusted-key "$keys/other-ed25519.pub.pem"
run 2 "$verify" m.owf --trusted-key "$keys/ed25519.pem"  # a private key is not a public key
run 0 "$inspect" m.owf
check "inspect lists the signatures" has "$out" "signatures \(2"
run 0 "$inspect" --json m.owf
inspected=$out

echo "== independent check: message bytes per spec/signatures.md §4, verified by openssl"
weights=$(json_str "$inspected" weights_digest)
info=$(json_str "$inspected" info_digest)
check "inspect gives both digests" test ${#weights} = 64 -a ${#info} = 64
ed_sig=$(json_str "$inspected" signature 1)
ec_sig=$(json_str "$inspected" signature 2)
printf 'OWF-SIGNATURE-V1\x0cweights+info' >full.msg
printf '%s%s' "$weights" "$info" | xxd -r -p >>full.msg
check "the full message is 93 bytes" test "$(stat -c %s full.msg)" = 93
printf '%s' "$ed_sig" | xxd -r -p >ed.sig
check "openssl verifies the Ed25519 signature over the spec's message" \
  openssl pkeyutl -verify -pubin -inkey "$keys/ed25519.pub.pem" -rawin -in full.msg -sigfile ed.sig
printf 'OWF-SIGNATURE-V1\x07weights' >weights.msg
printf '%s' "$weights" | xxd -r -p >>weights.msg
printf '%s' "$ec_sig" | xxd -r -p >ec.sig
openssl dgst -sha256 -binary weights.msg >weights.msg.sha256
check "openssl verifies the ECDSA P-256 signature over SHA-256 of the spec's message" \
  openssl pkeyutl -verify -pubin -inkey "$keys/p256.pub.pem" -in weights.msg.sha256 -sigfile ec.sig
check "key id: SHA-256 of the DER public key" test "$(json_str "$inspected" key_id 1)" = \
  "$(openssl pkey -pubin -in "$keys/ed25519.pub.pem" -outform DER | sha256sum | cut -c1-64)"
printf 'X' >>full.msg
check "openssl refuses the signature over a changed message" \
  bash -c "! openssl pkeyutl -verify -pubin -inkey '$keys/ed25519.pub.pem' -rawin -in full.msg -sigfile ed.sig"

echo "== independent check: the info digest of spec/signatures.md §3, built byte by byte"
# u64 little-endian; str = u64 length + bytes; the case is conformance.md's
# valid-signed-ed25519 (license Apache-2.0, provenance name tiny,
# hyperparameter layers = I64 2, tensors a.weight (weight), b.bias (bias)).
u64() { local v=$1 i out=""; for i in 0 1 2 3 4 5 6 7; do out+=$(printf '\\x%02x' $(((v >> (8 * i)) & 255))); done; printf "$out"; }
str() { u64 ${#1}; printf '%s' "$1"; }
case_file=$data/../../conformance/files/valid-signed-ed25519.owf
{
  printf 'OWF-INFO-V1\x01'
  str Apache-2.0; for i in 1 2 3 4; do str ""; done; u64 0; str ""; str ""  # license
  str tiny; for i in 1 2 3; do str ""; done; u64 0; str ""; u64 0; str ""; str ""; str ""  # provenance
  u64 1; str layers; printf '\x02\x00'; u64 2  # hyperparameters
  u64 0  # metadata
  u64 2; str a.weight; printf '\x01'; str b.bias; printf '\x02'  # roles
} >info.bin
run 0 "$inspect" --json "$case_file"
check "the info digest built from the spec is the library's" \
  test "$(sha256sum <info.bin | cut -c1-64)" = "$(json_str "$out" info_digest)"
printf 'OWF-SIGNATURE-V1\x0cweights+info' >case.msg
printf '%s' "$(json_str "$out" weights_digest)" | xxd -r -p >>case.msg
sha256sum <info.bin | cut -c1-64 | xxd -r -p >>case.msg
printf '%s' "$(json_str "$out" signature)" | xxd -r -p >case.sig
check "openssl verifies the conformance case's signature over the message built from the spec" \
  openssl pkeyutl -verify -pubin -inkey "$keys/ed25519.pub.pem" -rawin -in case.msg -sigfile case.sig

echo "== tampering"
cp m.owf edited.owf
run 0 "$edit" edited.owf --license Apache-2.0
check "owf-edit says which signatures it invalidated" has "$err" "1 embedded signature\(s\) cover the model information"
run 1 "$verify" edited.owf --require-signature --trusted-key "$keys/ed25519.pub.pem"
check "a changed license breaks the full signature" has "$out" "ed25519 \(weights\+info\): invalid"
run 0 "$verify" edited.owf --require-signature --trusted-key "$keys/p256.pub.pem"
check "the weights-only signature still holds" has "$out" "weights\): valid"
run 0 "$sign" edited.owf --remove "$(json_str "$inspected" key_id 1)"
run 2 "$sign" edited.owf --remove "$(json_str "$inspected" key_id 1)"

echo "== detached (DSSE) and conversions"
run 0 "$sign" m.owf --key "$keys/p256.pem" --weights-only --detached m.weights.sig
run 0 "$sign" m.owf --key "$keys/ed25519.pem" --detached m.sig
run 0 "$convert" m.owf m.safetensors
run 0 "$verify" m.safetensors --signature m.weights.sig --trusted-key "$keys/p256.pub.pem" --require-signature
check "a weights-only detached signature verifies the safetensors copy" has "$out" "valid"
run 0 "$verify" m.safetensors --signature m.sig --trusted-key "$keys/ed25519.pub.pem" --require-signature
check "the full one too: the model information converts exactly" has "$out" "m.sig .*: valid"
run 0 "$convert" m.owf relicensed.safetensors --license Apache-2.0
run 1 "$verify" relicensed.safetensors --signature m.sig --trusted-key "$keys/ed25519.pub.pem" --require-signature
check "a changed license: the full one names what no longer matches" has "$out" "model information no longer matches"
run 0 "$convert" m.owf z.owf --compress zstd
run 0 "$verify" z.owf --signature m.sig --trusted-key "$keys/ed25519.pub.pem" --require-signature
check "a recompressed copy verifies the full detached signature" has "$out" "m.sig .*: valid"
run 0 "$verify" z.owf --trusted-key "$keys/ed25519.pub.pem" --require-signature
check "the embedded signature travels with the recompressed copy" has "$out" "embedded key .* \(weights\+info\): valid"
# DSSE by hand: PAE(payloadType, payload) verified by openssl.
payload=$(json_str "$(cat m.sig)" payload)
printf '%s' "$payload" | base64 -d >payload.json
check "the payload is an in-toto Statement v1" has "$(cat payload.json)" '"_type":"https://in-toto.io/Statement/v1"'
check "its subject digest is the weights digest" has "$(cat payload.json)" "\"sha256\":\"$weights\""
type=application/vnd.in-toto+json
{ printf 'DSSEv1 %d %s %d ' ${#type} "$type" "$(stat -c %s payload.json)"; cat payload.json; } >pae.bin
json_str "$(cat m.sig)" sig | base64 -d >dsse.sig
check "openssl verifies the DSSE signature over PAE" \
  openssl pkeyutl -verify -pubin -inkey "$keys/ed25519.pub.pem" -rawin -in pae.bin -sigfile dsse.sig
printf '{}' >garbage.sig
run 1 "$verify" m.owf --signature garbage.sig

echo "== a shard set is signed as a whole (detached)"
mkdir set
run 0 "$convert" m.owf set/m.owf --max-shard-size 40
check "the model is split into several shards" has "$out" "[2-9] shards"
run 2 "$sign" set/m-00001-of-0000*.owf --key "$keys/ed25519.pem"
check "embedding into one shard is refused, saying why" has "$err" "shard of a set: sign the set as a whole with --detached"
run 0 "$sign" set --key "$keys/ed25519.pem" --detached set.sig
run 0 "$verify" set --signature set.sig --trusted-key "$keys/ed25519.pub.pem" --require-signature
check "the set verifies against its detached signature" has "$out" "set.sig .*: valid"
run 0 "$verify" m.owf --signature set.sig --trusted-key "$keys/ed25519.pub.pem" --require-signature
check "... and so does the unsharded file: one weights digest" has "$out" "set.sig .*: valid"

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
