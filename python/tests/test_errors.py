"""Errors: owf.OWFError carries the library's codes; hostile files of every
format raise it, never crash, never execute anything."""

import ast
import json
import os
import pathlib

import numpy as np
import pytest

import owf
import owf.numpy
from conftest import CONFORMANCE_DIR, PYTORCH_CASES


def test_error_codes_are_the_library_codes_and_the_stub_lists_them_all():
    stub = pathlib.Path(owf.__file__).with_name("__init__.pyi").read_text()
    tree = ast.parse(stub)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ErrorCode")
    declared = {t.targets[0].id: t.value.value for t in cls.body if isinstance(t, ast.Assign)}
    assert declared == {c.name: c.value for c in owf.ErrorCode}
    assert owf.ErrorCode.TENSOR_OVERLAP == 39 and owf.ErrorCode.MISSING_LICENSE == 53


def test_oWFError_has_code_name_and_message():
    with pytest.raises(owf.OWFError) as info:
        owf.safe_open("/nonexistent/model.owf")
    e = info.value
    assert e.code == owf.ErrorCode.IO_ERROR and e.code_name == "io_error"
    assert "/nonexistent/model.owf" in e.message and str(e).startswith("io_error: ")
    assert owf.SafetensorError is owf.OWFError


def test_missing_tensor_and_closed_file(tmp_path):
    path = tmp_path / "a.owf"
    owf.numpy.save_file({"a": np.zeros(3, np.float32)}, path, license="MIT")
    f = owf.safe_open(path, "np")
    with pytest.raises(owf.OWFError) as info:
        f.get_tensor("b")
    assert info.value.code == owf.ErrorCode.NOT_FOUND and "'b'" in info.value.message
    f.close()
    with pytest.raises(owf.OWFError, match="closed"):
        f.keys()
    with pytest.raises(owf.OWFError) as info:
        owf.safe_open(path, "flax")
    assert info.value.code == owf.ErrorCode.UNSUPPORTED


def _conformance_cases():
    index = json.loads((CONFORMANCE_DIR / "index.json").read_text())
    return index["cases"]


@pytest.mark.parametrize("case", _conformance_cases(), ids=lambda c: c["id"])
def test_conformance_suite(case):
    """Every case of the conformance suite gives the expected result through
    safe_open and verify(), with the expected error code."""
    path = CONFORMANCE_DIR / case["file"]
    expect = case["expect"]
    if case["id"].startswith("valid-shard-"):
        # A shard opens its whole set (spec/shards.md), whose other files are
        # not beside this one: S1 names the mismatch.
        with pytest.raises(owf.OWFError) as info:
            owf.safe_open(path, "np", format="owf")
        assert info.value.code == owf.ErrorCode.SHARD_SET_MISMATCH, info.value
        return
    if expect["open"] != "ok":
        with pytest.raises(owf.OWFError) as info:
            owf.safe_open(path, "np", format="owf", limits=case.get("limits"))
        assert info.value.code_name == expect["open"], info.value
        assert info.value.message.startswith(f"{path}: "), info.value  # names the file
        return
    with owf.safe_open(path, "np", format="owf", limits=case.get("limits")) as f:
        assert len(f.keys()) == expect.get("tensor_count", len(f.keys()))
        if expect.get("verify", "ok") == "ok":
            f.verify()
            assert f.weights_digest() == expect["weights_digest"]
        else:
            with pytest.raises(owf.OWFError) as info:
                f.verify()
            assert info.value.code_name == expect["verify"]


def test_every_conformance_file_reads_or_raises_oWFError():
    """Beyond open: reading every tensor of every file (valid or not)
    returns arrays or raises OWFError; nothing else escapes."""
    for case in _conformance_cases():
        try:
            with owf.safe_open(CONFORMANCE_DIR / case["file"], "np", format="owf") as f:
                for name in f.keys():
                    f.get_tensor(name)
                    f.get_slice(name)[...]
        except owf.OWFError:
            pass


SENTINEL = "/tmp/owf-pickle-test-pwned"


@pytest.mark.parametrize("name", sorted(p.name for p in PYTORCH_CASES.glob("evil_*.pt")))
def test_malicious_pickles_raise_and_run_nothing(name, tmp_path):
    if os.path.exists(SENTINEL):
        os.unlink(SENTINEL)
    for framework in ("np", "pt"):
        with pytest.raises(owf.OWFError) as info:
            with owf.safe_open(PYTORCH_CASES / name, framework) as f:
                for k in f.keys():
                    f.get_tensor(k)
        assert info.value.code in (owf.ErrorCode.FOREIGN_FORMAT_UNSUPPORTED, owf.ErrorCode.FOREIGN_FORMAT_INVALID)
    assert not os.path.exists(SENTINEL)


@pytest.mark.parametrize(
    "name", ["unknown_global.pt", "path_trick.pt", "storage_too_large.pt", "view_past_storage.pt", "missing_storage.pt"]
)
def test_hostile_pytorch_files_raise(name):
    with pytest.raises(owf.OWFError):
        with owf.safe_open(PYTORCH_CASES / name, "np") as f:
            for k in f.keys():
                f.get_tensor(k)


def _mutations(data: bytes):
    """Truncations and byte flips of a valid file, deterministic."""
    rng = np.random.default_rng(1234)
    for n in (0, 1, 7, 8, 9, 63, 64, len(data) // 2, len(data) - 65, len(data) - 1):
        yield f"truncated-{n}", data[: max(n, 0)]
    for i in range(60):
        b = bytearray(data)
        at = int(rng.integers(0, len(data)))
        b[at] ^= 1 << int(rng.integers(0, 8))
        yield f"flip-{at}", bytes(b)


@pytest.mark.parametrize("fmt", ["owf", "safetensors", "gguf", "npz", "npy"])
def test_damaged_files_raise_oWFError_or_read(tmp_path, fmt):
    tensors = {"w": np.arange(24, dtype=np.float32).reshape(4, 6)}
    if fmt != "npy":
        tensors["b"] = np.arange(5, dtype=np.int32)
    src = tmp_path / f"src.{fmt}"
    owf.numpy.save_file(tensors, src, license="MIT", metadata={"k": "v"})
    data = src.read_bytes()
    errors = 0
    for label, bad in _mutations(data):
        path = tmp_path / f"bad.{fmt}"
        path.write_bytes(bad)
        try:
            with owf.safe_open(path, "np") as f:
                for k in f.keys():
                    f.get_tensor(k)
                f.verify()
        except owf.OWFError:
            errors += 1
    assert errors >= 10  # truncations at least


def test_object_arrays_are_refused(corpus):
    for name in ("py3-objarr.npy", "py3-objarr.npz"):
        with pytest.raises(owf.OWFError) as info:
            owf.numpy.load_file(corpus / "numpy" / name)
        assert info.value.code == owf.ErrorCode.FOREIGN_FORMAT_UNSUPPORTED


def test_not_a_weights_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello")
    with pytest.raises(owf.OWFError):
        owf.safe_open(path)
    with pytest.raises(owf.OWFError):
        owf.safe_open(tmp_path)  # a directory


@pytest.mark.parametrize("shape", [[1] * 33, [2**63, 0], [2**62, 0], [2**40, 0, 2**40]])
def test_shapes_numpy_cannot_hold_raise_oWFError(tmp_path, shape):
    path = str(tmp_path / "h.owf")
    n = 0 if 0 in shape else 1
    owf._owf.save(path, "owf", [("t", "F32", shape, np.zeros(n, np.float32))], "MIT")
    for framework in ("np", "pt"):
        with owf.safe_open(path, framework) as f:
            assert f.tensor_info("t")["shape"] == shape
            with pytest.raises(owf.OWFError) as info:
                f.get_tensor("t")
            assert info.value.code == owf.ErrorCode.UNSUPPORTED


@pytest.mark.parametrize("name", ["candle/test.pt", "burn/legacy_shared_storage.pt", "burn/mixed_types.pt"])
def test_damaged_pytorch_checkpoints_raise_oWFError_or_read(corpus, tmp_path, name):
    data = (corpus / name).read_bytes()
    path = tmp_path / "bad.pt"
    for label, bad in _mutations(data):
        path.write_bytes(bad)
        for framework in ("np", "pt"):
            try:
                with owf.safe_open(path, framework) as f:
                    for k in f.keys():
                        f.get_tensor(k)
            except owf.OWFError:
                pass


def _set_cases():
    index = json.loads((CONFORMANCE_DIR / "index.json").read_text())
    return index["sets"]


@pytest.mark.parametrize("case", _set_cases(), ids=lambda c: c["id"])
def test_conformance_shard_sets(case):
    """A shard set opens whole from any shard or its directory, as the tools
    open it, with the expected error code when its files disagree."""
    path = CONFORMANCE_DIR / case["open"]
    expect = case["expect"]
    if expect["open"] != "ok":
        with pytest.raises(owf.OWFError) as info:
            owf.safe_open(path, "np")
        assert info.value.code_name == expect["open"], info.value
        return
    with owf.safe_open(path, "np") as f:
        assert len(f.keys()) == expect.get("tensor_count", len(f.keys()))
        if expect["verify"] == "ok":
            f.verify()
            assert f.weights_digest() == expect["weights_digest"]
            assert all(f.get_tensor(k).size >= 0 for k in f.keys())
        else:
            with pytest.raises(owf.OWFError) as info:
                f.verify()
            assert info.value.code_name == expect["verify"]
