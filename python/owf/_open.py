"""owf.safe_open: the safetensors reading API over every format the OWF
library reads (OWF, safetensors, GGUF, .npz, .npy, PyTorch checkpoints)."""

from __future__ import annotations

import operator
import os
from typing import Any, Dict, List, Optional

import numpy as np

from . import _elements, _owf
from ._errors import ErrorCode, OWFError

#: Metadata keys "owf.alias.<name>" = "<tensor>" record that <name> is the
#: same tensor as <tensor>, stored once (tied weights, see owf.torch.save_file).
ALIAS_PREFIX = "owf.alias."

_FRAMEWORKS = {"np": "np", "numpy": "np", "pt": "pt", "torch": "pt", "pytorch": "pt"}


def _framework(name: str) -> str:
    try:
        return _FRAMEWORKS[name]
    except (KeyError, TypeError):
        raise OWFError(
            ErrorCode.UNSUPPORTED, f"framework {name!r} is not supported (numpy: 'np', PyTorch: 'pt')"
        ) from None


class safe_open:
    """Opens a weights file for reading, as ``safetensors.safe_open`` does.

    Any format the OWF library reads opens here, detected from the content:
    OWF, safetensors, GGUF, ``.npz``, ``.npy`` and PyTorch checkpoints (whose
    pickles are interpreted without executing anything). Opening validates
    the whole file structure; a malformed or hostile file raises
    :class:`owf.OWFError`.

    ``framework`` is ``"np"``/``"numpy"`` (NumPy arrays) or ``"pt"``/``"torch"``
    (torch tensors, moved to ``device``). Tensors stored uncompressed in an
    OWF file come back without a copy: a NumPy array is a read-only view of
    the mapped file, a torch tensor a copy-on-write view (writing into it
    changes neither the file nor other processes). The mapping stays alive
    while any view does, also after this object is closed. Compressed and
    foreign tensors are decoded once into a fresh array.

    OWF additions (keyword-only): ``format`` forces a format ("owf",
    "safetensors", "gguf", "npz", "npy", "pytorch"); ``select`` reads one
    sub-dict of a PyTorch checkpoint ("model_state_dict"); ``limits`` lowers
    reader limits ({"max_tensors": 1000, ...}).

    Use as a context manager::

        with owf.safe_open("model.owf", framework="pt") as f:
            for name in f.keys():
                tensor = f.get_tensor(name)
    """

    def __init__(
        self,
        filename: "str | os.PathLike[str]",
        framework: str = "np",
        device: Any = "cpu",
        *,
        format: Optional[str] = None,
        select: Optional[str] = None,
        limits: Optional[Dict[str, int]] = None,
    ) -> None:
        self._framework = _framework(framework)
        self._device = device
        self._reader = _owf.Reader.open(os.fspath(filename), format, select or "", limits)
        self._init()

    @classmethod
    def _of_bytes(cls, data, framework: str, device: Any = "cpu") -> "safe_open":
        self = cls.__new__(cls)
        self._framework = _framework(framework)
        self._device = device
        self._reader = _owf.Reader.open_bytes(data)
        self._init()
        return self

    def _init(self) -> None:
        self._info: Optional[Dict[str, Any]] = None
        self._aliases: Optional[Dict[str, str]] = None
        if self._framework == "pt":
            from . import torch as _torch  # imports torch only when asked for

            self._to_framework = _torch._from_numpy
        else:
            self._to_framework = None

    # -- context manager ---------------------------------------------------

    def __enter__(self) -> "safe_open":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Releases the file. Arrays and tensors already returned stay valid."""
        self._reader.close()

    # -- the safetensors API -----------------------------------------------

    def keys(self) -> List[str]:
        """The tensor names, sorted (as safetensors' ``keys()``)."""
        return sorted(self._reader.names())

    def offset_keys(self) -> List[str]:
        """The tensor names in the order of their data in the file."""
        names = self._reader.names()
        offsets = [self._reader.tensor_info(i)["offset"] for i in range(len(names))]
        return [n for _, _, n in sorted(zip(offsets, range(len(names)), names))]

    def metadata(self) -> Dict[str, str]:
        """The file's free-form string metadata (safetensors' ``__metadata__``);
        an empty dict when there is none."""
        return dict(self._model_info()["metadata"])

    def get_tensor(self, name: str, dtype: Any = None):
        """The whole tensor ``name``. ``dtype``: convert to this NumPy (or, for
        framework "pt", torch) dtype; see :mod:`owf._elements` for the types
        NumPy lacks."""
        index = self._index(name)
        array = self._reader.array(index, self._framework == "pt")
        return self._finish(array, index, dtype)

    def get_slice(self, name: str) -> "TensorSlice":
        """A lazy handle on tensor ``name``: ``get_shape()``, ``get_dtype()``
        and ``[...]`` indexing that reads only the bytes (or compressed
        chunks) the index needs."""
        return TensorSlice(self, self._index(name))

    # -- what safetensors lacks ----------------------------------------------

    @property
    def format(self) -> str:
        """"owf", "safetensors", "gguf", "npz", "npy" or "pytorch"."""
        return self._reader.format

    @property
    def alignment(self) -> int:
        """The file's data alignment in bytes (0 where the format has none)."""
        return self._reader.alignment

    def license(self) -> Optional[Dict[str, Any]]:
        """The license (``{"spdx": ..., "copyright": [...], ...}``), or None."""
        return self._model_info()["license"]

    def provenance(self) -> Dict[str, Any]:
        """Name, version, architecture, authors, base models, ... (empty strings
        and lists where the file says nothing)."""
        return self._model_info()["provenance"]

    def hyperparameters(self) -> Dict[str, Any]:
        """Typed hyperparameters as Python values (bool, int, float, str, lists)."""
        return self._model_info()["hyperparameters"]

    def weights_digest(self, threads: int = 0) -> str:
        """The weights digest (hex): identifies the tensors independently of
        file format, layout, compression and metadata. OWF files store the
        digests it is made of; other formats are read and hashed (in
        parallel, without the GIL)."""
        return self._reader.weights_digest(threads)

    def verify(self, threads: int = 0) -> None:
        """Checks every tensor digest of an OWF file on every core (``threads``
        0), or reads every tensor of another format; raises OWFError."""
        self._reader.verify(threads)

    def tensor_sha256(self, name: str) -> str:
        """The SHA-256 (hex) of a tensor's logical bytes: stored (OWF) or computed."""
        return self._reader.tensor_sha256(self._index(name))

    def tensor_info(self, name: str) -> Dict[str, Any]:
        """dtype (OWF name), shape, role, codec, offset, stored and logical
        bytes, and how it reads as an array (array_dtype, array_shape, raw,
        zero_copy)."""
        return self._reader.tensor_info(self._index(name))

    def aliases(self) -> Dict[str, str]:
        """Names recorded as the same tensor as a stored one ({alias: tensor});
        ``get_tensor(alias)`` returns that tensor. Not listed by keys()."""
        if self._aliases is None:
            names = set(self._reader.names())
            aliases = {}
            for key, target in self._model_info()["metadata"].items():
                if not key.startswith(ALIAS_PREFIX):
                    continue
                alias = key[len(ALIAS_PREFIX):]
                if alias in names or target not in names:
                    raise OWFError(
                        ErrorCode.BAD_METADATA,
                        f"metadata '{key}': an alias must name no tensor of the file and point to one "
                        f"('{target}' {'is' if target in names else 'is not'} a tensor)",
                    )
                aliases[alias] = target
            self._aliases = aliases
        return dict(self._aliases)

    def _load_all(self) -> Dict[str, Any]:
        """Every tensor by name (aliases as the same object), then closes."""
        with self:
            names = self.keys()
            indexes = [self._index(name) for name in names]
            arrays = self._reader.arrays(indexes, self._framework == "pt")
            out = {
                name: self._finish(array, index, None)
                for name, index, array in zip(names, indexes, arrays)
            }
            for alias, target in self.aliases().items():
                out[alias] = out[target]
            return out

    @property
    def closed(self) -> bool:
        return self._reader.closed

    def __len__(self) -> int:
        return len(self._reader)

    def __contains__(self, name: str) -> bool:
        try:
            self._index(name)
        except OWFError:
            return False
        return True

    def __repr__(self) -> str:
        if getattr(self, "_reader", None) is None or self._reader.closed:
            return "<owf.safe_open (closed)>"
        return f"<owf.safe_open {self.format}, {len(self)} tensors, framework {self._framework!r}>"

    # -- internals ---------------------------------------------------------

    def _model_info(self) -> Dict[str, Any]:
        if self._info is None:
            self._info = self._reader.info()
        return self._info

    def _index(self, name: str) -> int:
        try:
            return self._reader.index(name)
        except OWFError as e:
            if e.code != ErrorCode.NOT_FOUND or self._reader.closed:
                raise
            target = self.aliases().get(name)
            if target is None:
                raise
            return self._reader.index(target)

    def _finish(self, array: np.ndarray, index: int, dtype: Any):
        dtype_name = self._reader.dtype(index)
        if self._to_framework is None:
            return _elements.convert(_elements.tag(array, dtype_name), dtype_name, dtype)
        tensor = self._to_framework(array, dtype_name, self._reader.name(index))
        if dtype is not None:
            tensor = tensor.to(dtype)
        if str(self._device) != "cpu":
            tensor = tensor.to(self._device)
        return tensor


class TensorSlice:
    """A tensor not read yet (safetensors' ``PySafeSlice``). Indexing with
    integers, slices and ``...`` reads only the rows of the outermost
    dimensions that the index touches (for compressed OWF tensors: only the
    chunks holding them); the index then applies to those rows. Tensors of
    types NumPy lacks are indexed in their raw array shape (see
    :mod:`owf._elements`)."""

    def __init__(self, handle: safe_open, index: int) -> None:
        self._handle = handle
        self._index = index
        self._info = handle._reader.tensor_info(index)

    def get_shape(self) -> List[int]:
        return list(self._info["shape"])

    def get_dtype(self) -> str:
        """The OWF dtype name ("F32", "BF16", "Q8_0", ...)."""
        return self._info["dtype"]

    def __len__(self) -> int:
        shape = self._info["shape"]
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def __getitem__(self, key):
        h = self._handle
        array = self._read(key)
        return h._finish(array, self._index, None)

    def _read(self, key) -> np.ndarray:
        reader = self._handle._reader
        if self._info["array_shape"] is None:  # NumPy cannot hold it: array() says why
            return reader.array(self._index)
        shape = tuple(self._info["array_shape"])
        key = _normalize(key, shape)
        if self._info["zero_copy"]:
            return reader.array(self._index, self._handle._framework == "pt")[key]
        dtype = self._info["array_dtype"]
        if not shape:
            out = np.empty((), dtype)
            reader.read_range(self._index, 0, out)
            return out
        strides = [1] * len(shape)
        for d in range(len(shape) - 2, -1, -1):
            strides[d] = strides[d + 1] * shape[d + 1]
        offset = 0
        d = 0
        while d < len(shape) and not isinstance(key[d], slice):
            offset += key[d] * strides[d]
            d += 1
        if d == len(shape):
            out = np.empty((), dtype)
            reader.read_range(self._index, offset * dtype.itemsize, out)
            return out
        start, stop, step = key[d].indices(shape[d])
        n = len(range(start, stop, step))
        if n == 0:
            return np.empty(_result_shape(shape, key), dtype)
        last = start + step * (n - 1)
        lo, hi = min(start, last), max(start, last) + 1
        rows = np.empty((hi - lo,) + shape[d + 1 :], dtype)
        reader.read_range(self._index, (offset + lo * strides[d]) * dtype.itemsize, rows)
        stop_in_rows = stop - lo
        first = slice(start - lo, stop_in_rows if stop_in_rows >= 0 else None, step)
        return rows[(first,) + key[d + 1 :]]


def _normalize(key, shape) -> tuple:
    """``key`` as a tuple of one int (in range, non-negative) or slice per
    dimension; only integers, slices and one Ellipsis are accepted."""
    if not isinstance(key, tuple):
        key = (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    explicit = sum(k is not Ellipsis for k in key)
    if explicit > len(shape):
        raise IndexError(f"too many indices: tensor has {len(shape)} dimensions, {explicit} were indexed")
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (len(shape) - explicit))
        elif isinstance(k, slice):
            out.append(k)
        elif isinstance(k, (bool, np.bool_)) or k is None:
            raise TypeError(f"unsupported index {k!r}: use integers, slices and '...'")
        else:
            try:
                i = operator.index(k)
            except TypeError:
                raise TypeError(f"unsupported index {k!r}: use integers, slices and '...'") from None
            size = shape[len(out)]
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {len(out)} of size {size}")
            out.append(i + size if i < 0 else i)
    out.extend([slice(None)] * (len(shape) - len(out)))
    return tuple(out)


def _result_shape(shape, key) -> tuple:
    """The shape ``key`` selects from an array of ``shape`` (no memory used)."""
    return np.broadcast_to(np.empty((), np.uint8), shape)[key].shape
