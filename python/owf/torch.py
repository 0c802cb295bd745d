"""owf.torch: safetensors.torch's functions (load_file, save_file, load,
save, load_model, save_model) for OWF and every format the OWF library
reads. ``load_file("pytorch_model.bin")`` reads a PyTorch checkpoint
without executing its pickle."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from . import _save
from ._errors import ErrorCode, OWFError
from ._open import safe_open

__all__ = ["load_file", "save_file", "load", "save", "load_model", "save_model"]

# OWF dtype name -> torch dtype attribute name. The raw ones (NumPy lacks
# them) arrive as integers of the same width and are viewed as the torch type.
_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64",
    "F16": "float16", "F32": "float32", "F64": "float64", "C64": "complex64", "C128": "complex128",
    "BF16": "bfloat16", "U16": "uint16", "U32": "uint32", "U64": "uint64",
    "F8_E4M3FN": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu",
}
_NUMPY_NATIVE = {"BOOL", "U8", "I8", "I16", "I32", "I64", "F16", "F32", "F64", "C64", "C128"}
_SIGNED = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}
_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _torch_dtype(dtype_name: str, tensor_name: str) -> torch.dtype:
    dtype = getattr(torch, _DTYPES.get(dtype_name, ""), None)
    if not isinstance(dtype, torch.dtype):
        raise OWFError(
            ErrorCode.UNSUPPORTED,
            f"tensor '{tensor_name}' has dtype {dtype_name}, which this torch ({torch.__version__}) has no type for; "
            "read it with framework='np'",
        )
    return dtype


def _from_numpy(array: np.ndarray, dtype_name: str, tensor_name: str) -> torch.Tensor:
    """A tensor sharing ``array``'s memory (owf.safe_open's arrays)."""
    dtype = _torch_dtype(dtype_name, tensor_name)
    if not array.flags.writeable:  # torch has no read-only tensors
        array = array.copy()
    if any(s < 0 for s in array.strides):
        array = np.ascontiguousarray(array)
    if dtype_name in _NUMPY_NATIVE:
        return torch.from_numpy(array)
    return torch.from_numpy(array.view(_SIGNED[array.dtype.itemsize])).view(dtype)


def _to_numpy(name: str, tensor: torch.Tensor) -> Tuple[str, np.ndarray]:
    """(OWF dtype name, contiguous CPU array with the tensor's bytes)."""
    names = {getattr(torch, v, None): k for k, v in _DTYPES.items()}
    dtype_name = names.get(tensor.dtype)
    if dtype_name is None:
        raise OWFError(ErrorCode.UNSUPPORTED, f"tensor '{name}' has torch dtype {tensor.dtype}, which OWF has no type for")
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    if dtype_name not in _NUMPY_NATIVE:
        t = t.view(_INT_OF_SIZE[t.element_size()])
    return dtype_name, t.numpy()


def _identity(tensor: torch.Tensor):
    """Equal for the same tensor under two names (tied weights); None for
    empty tensors, whose data pointers say nothing."""
    if not tensor.numel():
        return None
    return (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype)


def _entries(tensors: Dict[str, torch.Tensor]):
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of str to torch.Tensor, not {type(tensors).__name__}")
    entries, keys = [], []
    for name, tensor in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, not {type(name).__name__}")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"tensor '{name}' is a {type(tensor).__name__}, not a torch.Tensor")
        if tensor.layout != torch.strided:
            raise OWFError(ErrorCode.UNSUPPORTED, f"tensor '{name}' has layout {tensor.layout}; only dense tensors are saved")
        keys.append((name, _identity(tensor)))
        entries.append((name, tensor))
    aliases = _save.find_aliases(keys)
    out = []
    for name, tensor in entries:
        if name not in aliases:
            dtype_name, array = _to_numpy(name, tensor)
            out.append((name, dtype_name, list(tensor.shape), array))
    return out, aliases


def save_file(
    tensors: Dict[str, torch.Tensor],
    filename: "str | os.PathLike[str]",
    metadata: Optional[Dict[str, str]] = None,
    **options: Any,
) -> None:
    entries, aliases = _entries(tensors)
    _save.save(filename, entries, aliases, metadata, **options)


save_file.__doc__ = (
    "Writes ``tensors`` to ``filename``, as safetensors' ``save_file`` (which refuses tied tensors).\n"
    + _save.OPTIONS_DOC
    + "\n    Tensors on other devices are copied to the CPU; non-contiguous ones are made contiguous.\n"
)


def save(tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None, **options: Any) -> bytes:
    """The bytes of the file :func:`save_file` writes (default format OWF)."""
    entries, aliases = _entries(tensors)
    return _save.save_bytes(entries, aliases, metadata, **options)


def load_file(filename: "str | os.PathLike[str]", device: Any = "cpu") -> Dict[str, torch.Tensor]:
    """Every tensor of ``filename`` (any format the library reads) on
    ``device``. Uncompressed OWF tensors on the CPU are copy-on-write views
    of the mapped file (no copy); aliases recorded by :func:`save_file` come
    back as one tensor under each name."""
    return safe_open(filename, framework="pt", device=device)._load_all()


def load(data: bytes) -> Dict[str, torch.Tensor]:
    """Every tensor of a file held in memory (``bytes`` or any buffer), on the CPU."""
    return _save.open_bytes(data, "pt")._load_all()


def save_model(
    model: torch.nn.Module,
    filename: "str | os.PathLike[str]",
    metadata: Optional[Dict[str, str]] = None,
    force_contiguous: bool = False,
    **options: Any,
) -> None:
    """Writes ``model.state_dict()`` to ``filename``, as safetensors'
    ``save_model``: tied (shared) tensors are stored once, and the aliasing
    is recorded. ``force_contiguous`` is accepted for compatibility (tensors
    are always written contiguous). Options as :func:`save_file`."""
    save_file(model.state_dict(), filename, metadata, **options)


def load_model(
    model: torch.nn.Module,
    filename: "str | os.PathLike[str]",
    strict: bool = True,
    device: Any = "cpu",
) -> Tuple[List[str], List[str]]:
    """Loads ``filename`` into ``model``, as safetensors' ``load_model``:
    returns (missing, unexpected) names. A tied parameter counts as loaded
    when any of its names is in the file (also for files written without
    alias records, e.g. by safetensors). With ``strict``, missing or
    unexpected names raise RuntimeError."""
    state_dict = load_file(filename, device=device)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    own = model.state_dict()
    tied = _save.find_aliases((n, _identity(t)) for n, t in own.items())
    groups: Dict[str, List[str]] = {}
    for alias, kept in tied.items():
        groups.setdefault(kept, [kept]).append(alias)
    loaded = set(state_dict)
    covered = {n for names in groups.values() if loaded.intersection(names) for n in names}
    missing = [n for n in missing if n not in covered]
    if strict and (missing or unexpected):
        lines = []
        if missing:
            lines.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if unexpected:
            lines.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        raise RuntimeError(f"Error(s) in loading state_dict for {model.__class__.__name__}:\n\t" + "\n\t".join(lines))
    return list(missing), list(unexpected)
