"""Element types as NumPy arrays: the one place where OWF dtypes that NumPy
lacks are represented and converted.

NumPy has no BF16, F8, F4, F6 or block-quantized types. Such a tensor comes
back *raw*: BF16 as uint16 and F8 as uint8 with the tensor's shape; packed
(F4, F6) and block-quantized types as their bytes (uint8), one row of bytes
per innermost row when rows are whole bytes (as gguf-py does), else flat.
The array's dtype carries the true type in its metadata
(``array.dtype.metadata["owf_dtype"]``, see :func:`owf_dtype`), so that
saving the array again writes the true type.

``get_tensor(name, dtype=...)`` converts through :func:`convert`: to NumPy
types from NumPy types; decoding raw types to floats is where the library's
element decoder will hook in (it is not part of this version).
"""

from __future__ import annotations

import numpy as np

from ._errors import ErrorCode, OWFError

METADATA_KEY = "owf_dtype"

# OWF dtype name <-> NumPy dtype, for the types NumPy has.
_NATIVE = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),
    "C128": np.dtype("<c16"),
}
_BY_NUMPY = {(d.kind, d.itemsize): name for name, d in _NATIVE.items()}


def owf_dtype(dtype: np.dtype) -> str:
    """The OWF dtype name an array of this NumPy dtype is saved as."""
    dtype = np.dtype(dtype)
    if dtype.metadata and METADATA_KEY in dtype.metadata:
        return dtype.metadata[METADATA_KEY]
    name = _BY_NUMPY.get((dtype.kind, dtype.itemsize))
    if name is None:
        raise OWFError(ErrorCode.UNSUPPORTED, f"NumPy dtype {dtype} has no OWF dtype")
    return name


def tag(array: np.ndarray, dtype_name: str) -> np.ndarray:
    """A raw array (see the module doc) viewed with its true type recorded."""
    if dtype_name in _NATIVE:
        return array
    return array.view(np.dtype(array.dtype, metadata={METADATA_KEY: dtype_name}))


def convert(array: np.ndarray, dtype_name: str, target) -> np.ndarray:
    """``array`` (a tensor of OWF type ``dtype_name``) as NumPy dtype ``target``."""
    if target is None:
        return array
    target = np.dtype(target)
    if dtype_name in _NATIVE:
        return array.astype(target)
    # Here the element decoder (BF16, F8, F4, F6, quantized -> float) hooks in.
    raise OWFError(
        ErrorCode.UNSUPPORTED,
        f"decoding {dtype_name} to {target} is not available in this version; "
        f"the raw values are {array.dtype} (see owf._elements)",
    )
