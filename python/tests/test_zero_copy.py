"""Zero-copy is tested, not assumed: arrays of uncompressed OWF tensors lie
inside the file's mapping, keep it alive, and outlive the safe_open object."""

import gc
import os

import numpy as np
import pytest

import owf
import owf.numpy


def mapped_files():
    """(start, end, path) of every file mapping of this process."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6:
                start, end = (int(x, 16) for x in parts[0].split("-"))
                out.append((start, end, parts[5].strip()))
    return out


def mapping_of(address):
    return [p for s, e, p in mapped_files() if s <= address < e]


@pytest.fixture
def model(tmp_path):
    x = {"a": np.arange(1 << 16, dtype=np.float32), "b": np.arange(100, dtype=np.int64)}
    path = tmp_path / "z.owf"
    owf.numpy.save_file(x, path, license="MIT")
    return path, x


def test_uncompressed_tensors_view_the_mapped_file(model):
    path, x = model
    with owf.safe_open(path, "np") as f:
        a = f.get_tensor("a")
        info = f.tensor_info("a")
        assert info["zero_copy"]
        mapping = a.base.base if not isinstance(a.base, owf._owf.Mapping) else a.base
        while not isinstance(mapping, owf._owf.Mapping):
            mapping = mapping.base
        address = a.__array_interface__["data"][0]
        assert address == mapping.address + info["offset"]  # no copy: the file's bytes
        assert mapping_of(address) == [str(path)]
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError):
            a[0] = 1
        with pytest.raises(ValueError):
            a.setflags(write=True)
        assert np.shares_memory(a, f.get_tensor("a"))
        np.testing.assert_array_equal(a, x["a"])


def test_arrays_keep_the_mapping_alive_after_close_and_delete(model):
    path, x = model
    f = owf.safe_open(path, "np")
    a = f.get_tensor("a")
    view = f.get_slice("b")[10:20]
    address = a.__array_interface__["data"][0]
    f.close()
    del f
    gc.collect()
    assert mapping_of(address) == [str(path)]
    os.unlink(path)  # the mapping outlives the name too
    np.testing.assert_array_equal(a, x["a"])
    np.testing.assert_array_equal(view, x["b"][10:20])
    del a, view
    gc.collect()
    assert mapping_of(address) == []  # unmapped with the last view


def test_load_file_is_zero_copy(model):
    path, x = model
    loaded = owf.numpy.load_file(path)
    for k in x:
        assert mapping_of(loaded[k].__array_interface__["data"][0]) == [str(path)]


def test_compressed_and_foreign_tensors_are_fresh_arrays(tmp_path):
    x = {"z": np.zeros(1 << 18, np.float32)}
    for name, kwargs in (("c.owf", {"compression": "zstd", "license": "MIT"}), ("s.safetensors", {})):
        owf.numpy.save_file(x, tmp_path / name, **kwargs)
        with owf.safe_open(tmp_path / name) as f:
            assert not f.tensor_info("z")["zero_copy"]
            z = f.get_tensor("z")
        assert z.flags.owndata and z.flags.writeable
        np.testing.assert_array_equal(z, x["z"])


def test_bytes_are_copied_once_then_viewed():
    x = {"a": np.arange(10, dtype=np.float32)}
    data = owf.numpy.save(x, license="MIT")
    loaded = owf.numpy.load(data)
    del data
    gc.collect()
    np.testing.assert_array_equal(loaded["a"], x["a"])


def test_close_while_other_threads_read(tmp_path):
    """close() while other threads read (without the GIL) ends their calls
    normally or with OWFError('closed'), never with a crash."""
    import threading

    rng = np.random.default_rng(3)
    x = {f"t{i}": rng.standard_normal(1 << 18).astype(np.float32) for i in range(8)}
    path = tmp_path / "c.owf"
    owf.numpy.save_file(x, path, license="MIT", compression="zstd")
    for _ in range(5):
        f = owf.safe_open(path)
        outcomes = []

        def read():
            try:
                for _ in range(20):
                    for k in x:
                        f.get_tensor(k)
                    f.verify()
                outcomes.append("done")
            except owf.OWFError as e:
                outcomes.append(e.code_name)

        threads = [threading.Thread(target=read) for _ in range(3)]
        for t in threads:
            t.start()
        f.close()
        for t in threads:
            t.join()
        assert set(outcomes) <= {"done", "invalid_argument"} and len(outcomes) == 3
