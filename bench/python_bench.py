#!/usr/bin/env python3
"""Benchmarks of the Python package against what NumPy and PyTorch do
themselves, on the same bytes in the same run. Not a test: timings depend
on the machine and whatever else runs on it.

    PYTHONPATH=build/python python3 bench/python_bench.py [--reps 5] [--scale 1] [--dir /tmp/owf-pybench]

Data set: few-large, 64 F32 tensors of 2048 x 2048 (1 GiB; --scale K
divides the tensor count by K). Rows (ratio = baseline time /
owf time; 1.00x: as fast as the baseline, higher is better):

- owf.numpy.load_file + touching every byte, against numpy.memmap of each
  tensor's bytes in the same file + the same touching (target >= 0.90x);
- owf.torch.load_file of the OWF file, against torch.load of the same state
  dict saved by torch.save (warm page cache), without and with touching;
  also owf.torch.load_file of that .pt file (read without unpickling);
- owf.numpy.save_file (OWF, fsync), against ndarray.tofile of the same
  arrays into one file + fsync (target >= 0.70x).

Medians of --reps runs after one warm-up run, OWF and baseline runs
alternating so that both see the same machine.
"""

import argparse
import importlib
import os
import shutil
import statistics
import sys
import time

import numpy as np

import owf
import owf.numpy


def touch(arrays):
    """Reads every byte (sums each array's bytes as 64-bit integers)."""
    total = 0
    for a in arrays:
        total += int(a.view(np.int64).sum()) if a.nbytes % 8 == 0 else int(a.view(np.uint8).sum())
    return total


def compare(owf_fn, base_fn, reps, setup=None):
    """Medians of `reps` timed runs of each, alternating OWF and baseline
    so that both see the same machine (after one untimed warm-up pair)."""
    times = ([], [])
    for i in range(reps + 1):
        for k, fn in enumerate((owf_fn, base_fn)):
            if setup:
                setup()
            t0 = time.perf_counter()
            fn()
            if i:
                times[k].append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def fmt_time(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--dir", default="/tmp/owf-pybench")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    count, side = max(1, 64 // args.scale), 2048
    rng = np.random.default_rng(42)
    tensors = {f"layers.{i:02d}.weight": rng.standard_normal((side, side), dtype=np.float32) for i in range(count)}
    size = sum(a.nbytes for a in tensors.values())
    owf_path = os.path.join(args.dir, "few-large.owf")
    owf.numpy.save_file(tensors, owf_path, license="NOASSERTION")
    rows = []

    def row(name, owf_time, base_time, baseline, target=""):
        ratio = base_time / owf_time
        met = "" if not target else ("yes" if ratio >= float(target) else "**no**")
        rows.append((name, fmt_time(owf_time), f"{size / owf_time / 1e9:.2f} GB/s", baseline, fmt_time(base_time),
                     f"{ratio:.2f}x", f">= {target}x" if target else "", met))
        print(f"  {name}: {ratio:.2f}x", file=sys.stderr)

    # -- load + touch, NumPy ----------------------------------------------
    with owf.safe_open(owf_path) as f:
        layout = [(f.tensor_info(k)["offset"], tuple(f.tensor_info(k)["shape"])) for k in f.keys()]

    def owf_load_touch():
        touch(owf.numpy.load_file(owf_path).values())

    def memmap_touch():
        touch(np.memmap(owf_path, dtype=np.float32, mode="r", offset=o, shape=s) for o, s in layout)

    row("owf.numpy.load_file + touch every byte", *compare(owf_load_touch, memmap_touch, args.reps),
        "numpy.memmap + touch", "0.9")

    # -- torch ---------------------------------------------------------------
    try:
        import torch

        owf_torch = importlib.import_module("owf.torch")
    except ImportError:
        torch = None
        print("torch not installed: torch rows skipped", file=sys.stderr)
    if torch is not None:
        pt_path = os.path.join(args.dir, "few-large.pt")
        state = {k: torch.from_numpy(v) for k, v in tensors.items()}
        torch.save(state, pt_path)
        del state

        def touch_torch(sd):
            return sum(int(t.view(torch.int64).sum()) for t in sd.values())

        row("owf.torch.load_file (OWF)",
            *compare(lambda: owf_torch.load_file(owf_path), lambda: torch.load(pt_path), args.reps), "torch.load (.pt)")
        row("owf.torch.load_file (OWF) + touch every byte",
            *compare(lambda: touch_torch(owf_torch.load_file(owf_path)), lambda: touch_torch(torch.load(pt_path)),
                     args.reps), "torch.load (.pt) + touch")
        row("owf.torch.load_file (.pt, read without unpickling)",
            *compare(lambda: owf_torch.load_file(pt_path), lambda: torch.load(pt_path), args.reps), "torch.load (.pt)")
        os.unlink(pt_path)

    # -- save ----------------------------------------------------------------
    out = os.path.join(args.dir, "out.owf")
    raw = os.path.join(args.dir, "out.raw")

    def remove():
        for path in (out, raw):
            if os.path.exists(path):
                os.unlink(path)

    def owf_save():
        owf.numpy.save_file(tensors, out, license="NOASSERTION")

    def tofile_fsync():
        with open(raw, "wb") as f:
            for a in tensors.values():
                a.tofile(f)
            f.flush()
            os.fsync(f.fileno())

    row("owf.numpy.save_file (OWF, fsync)", *compare(owf_save, tofile_fsync, args.reps, remove),
        "ndarray.tofile + fsync", "0.7")
    remove()

    print(f"\nfew-large: {count} F32 tensors of {side} x {side}, {size / 2**30:.2f} GiB; "
          f"medians of {args.reps} alternating runs after one warm-up; warm page cache; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| Operation | OWF (median) | OWF throughput | Baseline | Baseline (median) | Ratio | Target | Met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
