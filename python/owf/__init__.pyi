"""Type stubs of the owf package (see owf/__init__.py for the documentation)."""

import enum
import os
from typing import Any, Dict, List, Optional, TypedDict, Union

from . import numpy as numpy
from . import torch as torch

__version__: str

class ErrorCode(enum.IntEnum):
    """The OWF library's stable error codes (spec/errors.md)."""

    OK = 0
    IO_ERROR = 1
    INVALID_ARGUMENT = 2
    NOT_FOUND = 3
    UNSUPPORTED = 4
    LIMIT_EXCEEDED = 5
    ALREADY_EXISTS = 6
    TRUNCATED = 10
    BAD_MAGIC = 11
    BAD_FOOTER_MAGIC = 12
    UNSUPPORTED_VERSION = 13
    VERSION_MISMATCH = 14
    BAD_HEADER = 15
    BAD_FOOTER = 16
    MANIFEST_OUT_OF_RANGE = 17
    MANIFEST_DIGEST_MISMATCH = 18
    MANIFEST_INVALID = 19
    UNKNOWN_REQUIRED_FEATURE = 20
    BAD_ALIGNMENT = 21
    BAD_TENSOR_NAME = 30
    TENSOR_NAMES_UNSORTED = 31
    DUPLICATE_TENSOR_NAME = 32
    UNKNOWN_DTYPE = 33
    SHAPE_OVERFLOW = 34
    TENSOR_SIZE_MISMATCH = 35
    UNKNOWN_CODEC = 36
    MISALIGNED_TENSOR = 37
    TENSOR_OUT_OF_RANGE = 38
    TENSOR_OVERLAP = 39
    UNCOVERED_BYTES = 40
    NONZERO_PADDING = 41
    TENSOR_DIGEST_MISMATCH = 42
    UNKNOWN_ROLE = 43
    DTYPE_MISMATCH = 44
    NONCANONICAL_TENSOR_DATA = 45
    BAD_UTF8 = 50
    BAD_HYPERPARAMETER = 51
    BAD_METADATA = 52
    MISSING_LICENSE = 53
    BAD_LICENSE = 54
    BAD_PROVENANCE = 55
    BAD_SIGNATURE = 56
    BAD_SHARD_SET = 57
    SHARD_SET_MISMATCH = 58
    BAD_CHUNK_TABLE = 60
    CORRUPT_COMPRESSED_DATA = 61
    FOREIGN_FORMAT_INVALID = 70
    FOREIGN_FORMAT_UNSUPPORTED = 71
    DIGEST_EXPECTATION_FAILED = 80

class OWFError(Exception):
    """An error reported by the OWF library: code, code_name, message."""

    code: Union[ErrorCode, int]
    code_name: str
    message: str
    def __init__(self, code: int, message: str) -> None: ...

SafetensorError = OWFError

PathLike = Union[str, os.PathLike[str]]

class SaveOptions(TypedDict, total=False):
    """Keyword-only options of every save function (owf.numpy, owf.torch)."""

    license: Union[str, Dict[str, Any], None]
    provenance: Optional[Dict[str, Any]]
    hyperparameters: Optional[Dict[str, Any]]
    compression: Optional[str]
    compression_level: int
    alignment: Optional[int]
    format: Optional[str]

class TensorSlice:
    """A tensor not read yet; ``[...]`` reads only the rows the index touches."""

    def get_shape(self) -> List[int]: ...
    def get_dtype(self) -> str: ...
    def __len__(self) -> int: ...
    def __getitem__(self, key: Any) -> Any: ...

class safe_open:
    """Opens any weights file the OWF library reads, as safetensors.safe_open."""

    def __init__(
        self,
        filename: PathLike,
        framework: str = "np",
        device: Any = "cpu",
        *,
        format: Optional[str] = None,
        select: Optional[str] = None,
        limits: Optional[Dict[str, int]] = None,
    ) -> None: ...
    def __enter__(self) -> "safe_open": ...
    def __exit__(self, *exc: Any) -> None: ...
    def close(self) -> None: ...
    def keys(self) -> List[str]: ...
    def offset_keys(self) -> List[str]: ...
    def metadata(self) -> Dict[str, str]: ...
    def get_tensor(self, name: str, dtype: Any = None) -> Any: ...
    def get_slice(self, name: str) -> TensorSlice: ...
    @property
    def format(self) -> str: ...
    @property
    def alignment(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def license(self) -> Optional[Dict[str, Any]]: ...
    def provenance(self) -> Dict[str, Any]: ...
    def hyperparameters(self) -> Dict[str, Any]: ...
    def weights_digest(self, threads: int = 0) -> str: ...
    def verify(self, threads: int = 0) -> None: ...
    def tensor_sha256(self, name: str) -> str: ...
    def tensor_info(self, name: str) -> Dict[str, Any]: ...
    def aliases(self) -> Dict[str, str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: str) -> bool: ...
