#!/usr/bin/env bash
# The Python package installs offline as the README says (a venv over
# Debian's packages, pip without network or build isolation), and the
# README's example and a corpus checkpoint work from the installed package,
# outside the source tree. setup.py takes the module from build/ (built by
# .ci/run) instead of building the library a second time; without
# OWF_CMAKE_BUILD_DIR it configures and builds its own tree.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work" "$root/python/build" "$root"/python/*.egg-info' EXIT
start=$(date +%s)
export OWF_CMAKE_BUILD_DIR=${OWF_CMAKE_BUILD_DIR:-$root/build}
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --no-build-isolation --no-index "$root/python" >"$work/pip.log" 2>&1 ||
  { tail -n 50 "$work/pip.log"; echo "python package check: pip install failed" >&2; exit 1; }
cd "$work"
OWF_ROOT="$root" OWF_CORPUS="$root/../shared/corpus" "$work/venv/bin/python" - <<'PY'
import os
import owf, owf.torch, torch

assert "site-packages" in owf.__file__ and not owf.__file__.startswith(os.environ["OWF_ROOT"]), owf.__file__
model = torch.nn.Linear(4, 2)
owf.torch.save_file(model.state_dict(), "model.owf", license="Apache-2.0")
with owf.safe_open("model.owf", framework="pt") as f:
    print(f.keys(), f.license()["spdx"], f.weights_digest())
    assert torch.equal(f.get_tensor("weight"), model.weight.detach())
corpus = os.environ["OWF_CORPUS"]
if os.path.isdir(corpus):
    with owf.safe_open(os.path.join(corpus, "burn", "mnist.pt"), framework="pt") as f:
        assert len(f.keys()) == 20
        f.get_tensor("conv1.weight")
print("installed package:", owf.__file__)
PY
echo "python package: passed in $(( $(date +%s) - start ))s"
