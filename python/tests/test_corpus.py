"""Every weights file of the corpus (../shared/corpus, see its SOURCES.md)
read through owf.safe_open equals what its own ecosystem reads: numpy.load
for .npy/.npz, the raw bytes for safetensors and GGUF, torch.load for the
PyTorch checkpoints."""

import importlib
import json
import struct

import numpy as np
import pytest

import owf
from conftest import CORPUS_DIR

WEIGHT_SUFFIXES = {".safetensors", ".gguf", ".npy", ".npz", ".pt", ".pth"}
REFUSED = {"py3-objarr.npy", "py3-objarr.npz"}  # object arrays: a pickle, never loaded


def corpus_files(*suffixes):
    if not CORPUS_DIR.is_dir():
        return []
    return sorted(
        str(p.relative_to(CORPUS_DIR))
        for p in CORPUS_DIR.rglob("*")
        if p.suffix in suffixes and p.name not in REFUSED
    )


def raw_bytes(array):
    return np.ascontiguousarray(array).tobytes()


def test_the_corpus_is_there():
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"no corpus at {CORPUS_DIR}")
    assert len(corpus_files(*WEIGHT_SUFFIXES)) >= 25


@pytest.mark.parametrize("name", corpus_files(".safetensors"))
def test_safetensors_equal_their_raw_bytes(name):
    path = CORPUS_DIR / name
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    with owf.safe_open(path, "np") as f:
        assert f.format == "safetensors"
        assert f.keys() == sorted(header)
        assert f.metadata() == meta
        for key, entry in header.items():
            begin, end = entry["data_offsets"]
            t = f.get_tensor(key)
            info = f.tensor_info(key)
            assert info["shape"] == entry["shape"]
            assert raw_bytes(t) == data[8 + n + begin : 8 + n + end], key
            assert f.get_slice(key).get_shape() == entry["shape"]
        f.verify()


@pytest.mark.parametrize("name", corpus_files(".npy", ".npz"))
def test_numpy_files_equal_numpy_load(name):
    path = CORPUS_DIR / name
    expected = np.load(path, allow_pickle=False)
    if name.endswith(".npy"):
        expected = {path.stem: expected}
    with owf.safe_open(path, "np") as f:
        assert sorted(f.keys()) == sorted(expected)
        for key in expected:
            got = f.get_tensor(key)
            assert got.dtype == expected[key].dtype.newbyteorder("<")
            np.testing.assert_array_equal(got, expected[key])


@pytest.mark.parametrize("name", corpus_files(".gguf"))
def test_gguf_tensors_are_their_bytes_in_the_file(name):
    path = CORPUS_DIR / name
    data = path.read_bytes()
    with owf.safe_open(path, "np") as f:
        assert f.format == "gguf"
        for key in f.keys():
            info = f.tensor_info(key)
            t = f.get_tensor(key)
            assert raw_bytes(t) == data[info["offset"] : info["offset"] + info["logical_bytes"]], key
            if not info["raw"]:
                assert list(t.shape) == info["shape"]
        assert len(f.hyperparameters()) + len(f.metadata()) > 0
        f.verify()


def test_quantized_gguf_tensors_come_back_as_rows_of_bytes(corpus):
    with owf.safe_open(corpus / "llama4j" / "tinyllamas-stories-260k-q8_0.gguf") as f:
        q = [k for k in f.keys() if f.tensor_info(k)["dtype"] == "Q8_0"]
        assert q
        for k in q:
            info = f.tensor_info(k)
            t = f.get_tensor(k)
            assert t.dtype == np.uint8 and t.dtype.metadata == {"owf_dtype": "Q8_0"}
            assert t.nbytes == info["logical_bytes"]
            if len(info["shape"]) == 2:
                assert t.shape == (info["shape"][0], info["shape"][1] // 32 * 34)
                np.testing.assert_array_equal(f.get_slice(k)[1], t[1])


def walk(obj, prefix=""):
    """(dotted name, tensor) of a torch.load result, as the OWF reader names them."""
    import torch

    if isinstance(obj, torch.Tensor):
        yield prefix or "tensor", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from walk(v, f"{prefix}.{i}" if prefix else str(i))


@pytest.mark.parametrize("name", corpus_files(".pt", ".pth"))
def test_pytorch_checkpoints_equal_torch_load(name):
    torch = pytest.importorskip("torch")
    path = CORPUS_DIR / name
    expected = dict(walk(torch.load(path, map_location="cpu")))  # benign files of the corpus
    assert expected
    with owf.safe_open(path, "pt") as f:
        assert f.format == "pytorch"
        assert sorted(f.keys()) == sorted(expected)
        for key, t in expected.items():
            got = f.get_tensor(key)
            assert got.dtype == t.dtype and got.shape == t.shape, key
            assert torch.equal(got, t), key
    loaded = importlib.import_module("owf.torch").load_file(path)
    assert sorted(loaded) == sorted(expected)


def test_select_a_sub_dict(corpus):
    with owf.safe_open(corpus / "burn" / "checkpoint.pt", "np", select="model_state_dict") as f:
        assert all(not k.startswith("model_state_dict.") for k in f.keys())
        assert "fc1.weight" in f.keys()


def test_weights_digest_is_the_same_across_formats(corpus, tmp_path):
    numpy_api = importlib.import_module("owf.numpy")
    src = corpus / "burn" / "mnist.safetensors"
    digest = owf.safe_open(src).weights_digest()
    tensors = numpy_api.load_file(src)
    for ext in ("owf", "npz", "gguf"):
        numpy_api.save_file(tensors, tmp_path / f"m.{ext}", license="MIT OR Apache-2.0")
        assert owf.safe_open(tmp_path / f"m.{ext}").weights_digest() == digest, ext
