"""owf.numpy and safe_open with NumPy: round trips, model information,
compression, slices, formats chosen by extension, bytes."""

import numpy as np
import pytest

import owf
import owf.numpy

ALL_NUMPY = {
    "bool": np.array([True, False, True]),
    "u8": np.arange(6, dtype=np.uint8).reshape(2, 3),
    "i8": np.arange(-3, 3, dtype=np.int8),
    "u16": np.arange(4, dtype=np.uint16),
    "i16": np.arange(-2, 2, dtype=np.int16),
    "u32": np.arange(4, dtype=np.uint32),
    "i32": np.arange(-2, 2, dtype=np.int32),
    "u64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "i64": np.array([-(2**63), 2**63 - 1], dtype=np.int64),
    "f16": np.linspace(-1, 1, 5, dtype=np.float16),
    "f32": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
    "f64": np.linspace(-1, 1, 7),
    "c64": np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
    "c128": np.array([1 + 2j], dtype=np.complex128),
    "scalar": np.array(3.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "big_endian": np.arange(4, dtype=">i4"),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
}


def check_equal(loaded, expected):
    assert set(loaded) == set(expected)
    for k, v in expected.items():
        assert loaded[k].shape == v.shape, k
        assert loaded[k].dtype == v.dtype.newbyteorder("<") or loaded[k].dtype == v.dtype, k
        np.testing.assert_array_equal(loaded[k], v, err_msg=k)


@pytest.mark.parametrize("ext", ["owf", "safetensors", "npz"])
def test_round_trip_every_numpy_dtype(tmp_path, ext):
    tensors = dict(ALL_NUMPY)
    if ext == "safetensors":
        del tensors["c128"]  # safetensors has no C128
    path = tmp_path / f"all.{ext}"
    owf.numpy.save_file(tensors, path, metadata={"note": "x"}, license="MIT")
    with owf.safe_open(path, "np") as f:
        assert f.format == ext
    check_equal(owf.numpy.load_file(path), tensors)


def test_license_is_required_for_oWF_and_noassertion_is_explicit(tmp_path):
    with pytest.raises(owf.OWFError) as info:
        owf.numpy.save_file({"a": np.zeros(2)}, tmp_path / "a.owf")
    assert info.value.code == owf.ErrorCode.MISSING_LICENSE
    assert not (tmp_path / "a.owf").exists()
    with pytest.raises(owf.OWFError) as info:
        owf.numpy.save_file({"a": np.zeros(2)}, tmp_path / "a.owf", license="Not-A-License")
    assert info.value.code == owf.ErrorCode.BAD_LICENSE
    owf.numpy.save_file({"a": np.zeros(2)}, tmp_path / "a.owf", license="NOASSERTION")
    with owf.safe_open(tmp_path / "a.owf") as f:
        assert f.license()["spdx"] == "NOASSERTION"
    # Other formats need none.
    owf.numpy.save_file({"a": np.zeros(2)}, tmp_path / "a.safetensors")


def test_model_information_round_trips(tmp_path):
    path = tmp_path / "m.owf"
    hp = {
        "layers": 12,
        "lr": 0.5,
        "causal": True,
        "act": "gelu",
        "dims": [1, 2, 3],
        "betas": [0.9, 0.999],
        "flags": [True, False],
        "names": ["a", "b"],
        "big": 2**64 - 1,
        "neg": -5,
        "u8": np.uint8(7),
        "f32": np.float32(0.25),
        "arr": np.array([1, 2], dtype=np.int32),
        "empty": [],
    }
    license = {"spdx": "Apache-2.0", "copyright": ["2024 Someone"], "url": "https://example.org/l"}
    provenance = {
        "name": "tiny",
        "version": "1.0",
        "architecture": "mlp",
        "authors": ["A", "B"],
        "base_models": [{"name": "base", "weights_digest": "ab" * 32}],
    }
    owf.numpy.save_file(
        {"w": np.ones(3, np.float32)}, path, {"k": "v"}, license=license, provenance=provenance, hyperparameters=hp
    )
    with owf.safe_open(path) as f:
        assert f.metadata() == {"k": "v"}
        lic = f.license()
        assert lic["spdx"] == "Apache-2.0" and lic["copyright"] == ["2024 Someone"] and lic["url"] == license["url"]
        p = f.provenance()
        assert p["name"] == "tiny" and p["authors"] == ["A", "B"] and p["architecture"] == "mlp"
        assert p["base_models"] == [{"name": "base", "weights_digest": "ab" * 32}]
        h = f.hyperparameters()
        expected = dict(hp, u8=7, f32=0.25, arr=[1, 2])
        assert h == expected
        assert type(h["layers"]) is int and type(h["causal"]) is bool and type(h["lr"]) is float


@pytest.mark.parametrize(
    "hp, code",
    [
        ({"bad key!": 1}, owf.ErrorCode.BAD_HYPERPARAMETER),
        ({"x": 2**64}, owf.ErrorCode.BAD_HYPERPARAMETER),
        ({"x": [1, "a"]}, owf.ErrorCode.BAD_HYPERPARAMETER),
        ({"x": [-1, 2**63]}, owf.ErrorCode.BAD_HYPERPARAMETER),
    ],
)
def test_bad_hyperparameters(tmp_path, hp, code):
    with pytest.raises(owf.OWFError) as info:
        owf.numpy.save_file({"w": np.ones(1)}, tmp_path / "m.owf", license="MIT", hyperparameters=hp)
    assert info.value.code == code


def test_wrong_python_types_raise_typeerror(tmp_path):
    with pytest.raises(TypeError):
        owf.numpy.save_file({"w": [1, 2]}, tmp_path / "m.owf", license="MIT")
    with pytest.raises(TypeError):
        owf.numpy.save_file({"w": np.ones(1)}, tmp_path / "m.owf", {"k": 1}, license="MIT")
    with pytest.raises(TypeError):
        owf.numpy.save_file({"w": np.ones(1)}, tmp_path / "m.owf", license="MIT", hyperparameters={"x": None})
    with pytest.raises(owf.OWFError) as info:
        owf.numpy.save_file({"w": np.ones(1)}, tmp_path / "m.owf", license="MIT", provenance={"nmae": "x"})
    assert info.value.code == owf.ErrorCode.INVALID_ARGUMENT


def test_compression_digest_and_verify(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"w": (rng.standard_normal((512, 1024)) * 0.02).astype(np.float32), "z": np.zeros(300_000, np.float32)}
    plain, packed = tmp_path / "plain.owf", tmp_path / "packed.owf"
    owf.numpy.save_file(tensors, plain, license="MIT")
    owf.numpy.save_file(tensors, packed, license="MIT", compression="zstd", compression_level=3)
    assert packed.stat().st_size < plain.stat().st_size
    with owf.safe_open(plain) as a, owf.safe_open(packed) as b:
        assert a.weights_digest() == b.weights_digest()
        assert b.tensor_info("z")["codec"] != "none" and not b.tensor_info("z")["zero_copy"]
        assert a.tensor_info("w")["zero_copy"]
        a.verify()
        b.verify(threads=1)
        for k in tensors:
            assert a.tensor_sha256(k) == b.tensor_sha256(k)
            np.testing.assert_array_equal(b.get_tensor(k), tensors[k])
    import hashlib

    assert owf.safe_open(plain).tensor_sha256("w") == hashlib.sha256(tensors["w"].tobytes()).hexdigest()
    with pytest.raises(owf.OWFError):
        owf.numpy.save_file(tensors, tmp_path / "x.owf", license="MIT", compression="lz4")


def test_load_file_loads_the_tensors_that_need_a_copy_together_and_checks_them(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {
        "a": (rng.standard_normal((256, 512)) * 0.02).astype(np.float32),
        "b": np.zeros(400_000, np.float32),
        "c": np.arange(1000, dtype=np.int64),
    }
    path = tmp_path / "packed.owf"
    owf.numpy.save_file(tensors, path, license="MIT", compression="zstd")
    with owf.safe_open(path) as f:
        codecs = {k: f.tensor_info(k)["codec"] for k in tensors}
        stored = f.tensor_info("b")
    assert codecs["b"] != "none"
    check_equal(owf.numpy.load_file(path), tensors)
    # A changed byte inside a compressed tensor: the load fails naming it.
    data = bytearray(path.read_bytes())
    data[stored["offset"] + stored["stored_bytes"] // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(owf.OWFError) as info:
        owf.numpy.load_file(path)
    assert "'b'" in str(info.value)


SLICES = [
    (...,),
    (0,),
    (-1,),
    (slice(2, 5),),
    (slice(None, None, 3),),
    (slice(None, None, -2),),
    (slice(7, 1, -3),),
    (3, slice(1, 4)),
    (slice(1, 3), 2),
    (slice(1, 6), ..., slice(0, 1)),
    (2, 3, 1),
    (slice(5, 5),),
    (..., 1),
]


@pytest.mark.parametrize("kind", ["owf", "zstd", "safetensors", "npz", "npy"])
def test_slices_equal_numpy_indexing(tmp_path, kind):
    x = np.arange(8 * 5 * 3, dtype=np.float32).reshape(8, 5, 3)
    path = tmp_path / ("x." + ("owf" if kind == "zstd" else kind))
    owf.numpy.save_file({"x": x}, path, license="MIT", compression="zstd" if kind == "zstd" else None)
    with owf.safe_open(path, "np") as f:
        s = f.get_slice("x")
        assert s.get_shape() == [8, 5, 3] and s.get_dtype() == "F32" and len(s) == 8
        for key in SLICES:
            np.testing.assert_array_equal(s[key], x[key], err_msg=str(key))
        with pytest.raises(IndexError):
            s[8]
        with pytest.raises(IndexError):
            s[0, 0, 0, 0]
        with pytest.raises(TypeError):
            s[[0, 1]]


def test_compressed_slices_decode_only_the_chunks_they_need(tmp_path):
    """A slice of a compressed tensor reads only its rows: a file whose other
    chunks are corrupt still gives the slice, while the whole tensor fails."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 1 << 18)).astype(np.float32)  # 4 rows of 1 MiB: one chunk each
    path = tmp_path / "x.owf"
    owf.numpy.save_file({"x": x}, path, license="MIT", compression="zstd")
    with owf.safe_open(path) as f:
        info = f.tensor_info("x")
    assert info["codec"] != "none"
    data = bytearray(path.read_bytes())
    end = info["offset"] + info["stored_bytes"]
    for at in range(end - 2000, end - 1000):  # inside the last chunk's frame
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with owf.safe_open(path) as f:
        np.testing.assert_array_equal(f.get_slice("x")[0:2], x[0:2])
        with pytest.raises(owf.OWFError) as e:
            f.get_tensor("x")
        assert e.value.code == owf.ErrorCode.CORRUPT_COMPRESSED_DATA


def test_formats_by_extension_and_bytes(tmp_path):
    x = {"a": np.arange(4, dtype=np.float32), "b": np.ones((2, 2), np.int64)}
    for ext in ("owf", "safetensors", "gguf", "npz"):
        owf.numpy.save_file(x, tmp_path / f"m.{ext}", license="MIT")
        with owf.safe_open(tmp_path / f"m.{ext}") as f:
            assert f.format == ext
            assert f.keys() == ["a", "b"]
        check_equal(owf.numpy.load((tmp_path / f"m.{ext}").read_bytes()), x)
    owf.numpy.save_file({"a": x["a"]}, tmp_path / "m.npy")
    check_equal(owf.numpy.load_file(tmp_path / "m.npy"), {"m": x["a"]})
    with pytest.raises(owf.OWFError):
        owf.numpy.save_file(x, tmp_path / "m.pt")
    data = owf.numpy.save(x, license="MIT")
    assert data[:4] == b"\x89OWF"
    check_equal(owf.numpy.load(data), x)
    check_equal(owf.numpy.load(bytearray(data)), x)
    safetensors_bytes = owf.numpy.save(x, format="safetensors")
    check_equal(owf.numpy.load(safetensors_bytes), x)


def test_safetensors_bytes_layout(tmp_path):
    """save_file to .safetensors writes what safetensors writes: the header
    and the raw little-endian bytes in the reference layout."""
    import json
    import struct

    x = {"b": np.arange(3, dtype=np.int64), "a": np.arange(4, dtype=np.float32)}
    path = tmp_path / "m.safetensors"
    owf.numpy.save_file(x, path, metadata={"format": "np"})
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert header["__metadata__"] == {"format": "np"}
    for name, arr in x.items():
        b, e = header[name]["data_offsets"]
        assert data[8 + n + b : 8 + n + e] == arr.tobytes()


def test_aliases_are_stored_once(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "t.owf"
    owf.numpy.save_file({"emb": w, "head": w, "other": w.copy()}, path, license="MIT")
    with owf.safe_open(path) as f:
        assert f.keys() == ["emb", "other"]
        assert f.aliases() == {"head": "emb"}
        np.testing.assert_array_equal(f.get_tensor("head"), w)
        assert "head" in f and "nope" not in f
    loaded = owf.numpy.load_file(path)
    assert loaded["head"] is loaded["emb"]


def test_bad_alias_records_raise(tmp_path):
    path = tmp_path / "t.owf"
    owf.numpy.save_file({"a": np.ones(2)}, path, {"owf.alias.b": "missing"}, license="MIT")
    with pytest.raises(owf.OWFError) as info:
        owf.numpy.load_file(path)
    assert info.value.code == owf.ErrorCode.BAD_METADATA


def test_types_numpy_lacks_come_back_raw_with_their_type(tmp_path):
    bits = np.array([0x3F80, 0xC000, 0x7F80], dtype=np.uint16)  # BF16 1, -2, inf
    raw = owf._elements.tag(bits, "BF16")
    path = tmp_path / "b.owf"
    owf.numpy.save_file({"b": raw, "f8": owf._elements.tag(np.arange(4, dtype=np.uint8), "F8_E4M3FN")}, path, license="MIT")
    with owf.safe_open(path) as f:
        assert f.tensor_info("b")["dtype"] == "BF16" and f.get_slice("b").get_dtype() == "BF16"
        b = f.get_tensor("b")
        assert b.dtype == np.uint16 and b.dtype.metadata == {"owf_dtype": "BF16"}
        np.testing.assert_array_equal(b, bits)
        assert f.get_tensor("f8").dtype.metadata == {"owf_dtype": "F8_E4M3FN"}
        with pytest.raises(owf.OWFError) as info:
            f.get_tensor("b", dtype=np.float32)
        assert info.value.code == owf.ErrorCode.UNSUPPORTED
        np.testing.assert_array_equal(f.get_tensor("f8", dtype=None), np.arange(4))
    again = tmp_path / "again.owf"
    owf.numpy.save_file(owf.numpy.load_file(path), again, license="MIT")
    with owf.safe_open(again) as f:
        assert f.tensor_info("b")["dtype"] == "BF16"


def test_dtype_conversion_of_numpy_types(tmp_path):
    path = tmp_path / "c.owf"
    owf.numpy.save_file({"h": np.array([1.5, 2.5], np.float16)}, path, license="MIT")
    with owf.safe_open(path) as f:
        out = f.get_tensor("h", dtype=np.float32)
        assert out.dtype == np.float32 and out.tolist() == [1.5, 2.5]


def test_reading_from_threads(tmp_path):
    import concurrent.futures

    x = {f"t{i}": np.full((64, 64), i, np.float32) for i in range(32)}
    path = tmp_path / "t.owf"
    owf.numpy.save_file(x, path, license="MIT", compression="zstd")
    with owf.safe_open(path) as f:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(f.get_tensor, sorted(x)))
            digests = list(pool.map(f.tensor_sha256, sorted(x)))
        assert digests == [f.tensor_sha256(k) for k in sorted(x)]
    for name, arr in zip(sorted(x), results):
        np.testing.assert_array_equal(arr, x[name])
