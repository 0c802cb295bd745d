#!/usr/bin/env bash
# The main job on the bundled example: write the house-price model with the
# C++ API (examples/house_price_write.cpp), then open, verify and describe it
# and run its forward pass with the C API (examples/house_price_predict.c).
set -euo pipefail
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$build/examples/house_price_write" "$out/house_price.owf"
# 120 m², 5 km from the centre (the file's example.input).
"$build/examples/house_price_predict" "$out/house_price.owf"
# A smaller flat farther out: 60 m², 25 km.
echo "60 m2, 25 km from the centre:"
"$build/examples/house_price_predict" "$out/house_price.owf" 0.6 2.5 | tail -n 1
