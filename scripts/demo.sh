#!/usr/bin/env bash
# The main job on the bundled example: write the house-price model, then
# open, verify and print it.
set -euo pipefail
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$build/examples/house_price" "$out/house_price.owf"
