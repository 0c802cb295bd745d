"""owf.numpy: safetensors.numpy's functions (load_file, save_file, load,
save) for OWF and every format the OWF library reads."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

import numpy as np

from . import _elements, _save
from ._open import safe_open

__all__ = ["load_file", "save_file", "load", "save"]


def _entries(tensor_dict: Dict[str, np.ndarray]):
    if not isinstance(tensor_dict, dict):
        raise TypeError(f"expected a dict of str to numpy.ndarray, not {type(tensor_dict).__name__}")
    entries, keys = [], []
    for name, array in tensor_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, not {type(name).__name__}")
        if not isinstance(array, np.ndarray):
            raise TypeError(f"tensor '{name}' is a {type(array).__name__}, not a numpy.ndarray")
        dtype_name = _elements.owf_dtype(array.dtype)
        key = None
        if array.size:
            key = (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str, dtype_name)
        shape = list(array.shape)  # ascontiguousarray makes scalars 1-D
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        entries.append((name, dtype_name, shape, np.ascontiguousarray(array)))
        keys.append((name, key))
    aliases = _save.find_aliases(keys)
    return [e for e in entries if e[0] not in aliases], aliases


def save_file(
    tensor_dict: Dict[str, np.ndarray],
    filename: "str | os.PathLike[str]",
    metadata: Optional[Dict[str, str]] = None,
    **options: Any,
) -> None:
    entries, aliases = _entries(tensor_dict)
    _save.save(filename, entries, aliases, metadata, **options)


save_file.__doc__ = (
    "Writes ``tensor_dict`` to ``filename``, as safetensors' ``save_file``.\n"
    + _save.OPTIONS_DOC
    + "\n    Raw arrays of types NumPy lacks (as get_tensor returns them) are written with their true type.\n"
)


def save(tensor_dict: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None, **options: Any) -> bytes:
    """The bytes of the file :func:`save_file` writes (default format OWF)."""
    entries, aliases = _entries(tensor_dict)
    return _save.save_bytes(entries, aliases, metadata, **options)


def load_file(filename: "str | os.PathLike[str]") -> Dict[str, np.ndarray]:
    """Every tensor of ``filename`` (any format the library reads), by name;
    uncompressed OWF tensors as read-only views of the mapped file."""
    return safe_open(filename, framework="np")._load_all()


def load(data: bytes) -> Dict[str, np.ndarray]:
    """Every tensor of a file held in memory (``bytes`` or any buffer)."""
    return _save.open_bytes(data, "np")._load_all()
