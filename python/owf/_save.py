"""Writing tensors: what owf.numpy and owf.torch share (target format, the
OWF arguments, tied tensors stored once)."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Hashable, Iterable, List, Optional, Tuple

from . import _owf
from ._errors import ErrorCode, OWFError
from ._open import ALIAS_PREFIX

_BY_EXTENSION = {
    ".owf": "owf",
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".npz": "npz",
    ".npy": "npy",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".bin": "pytorch",
    ".ckpt": "pytorch",
}

# (name, OWF dtype name, shape, C-contiguous buffer of the logical bytes)
Entry = Tuple[str, str, List[int], Any]


def target_format(filename: str, format: Optional[str]) -> str:
    """The format to write: ``format``, else the file extension's
    (.safetensors, .gguf, .npz, .npy; PyTorch extensions are refused by the
    library), else OWF."""
    if format is not None:
        return format
    return _BY_EXTENSION.get(os.path.splitext(filename)[1].lower(), "owf")


def find_aliases(keys: Iterable[Tuple[str, Optional[Hashable]]]) -> Dict[str, str]:
    """{alias: kept name} for names whose identity key equals an earlier
    one's (key None: never aliased). The kept name of a group is its
    smallest, as safetensors' save_model keeps it."""
    groups: Dict[Hashable, List[str]] = {}
    for name, key in keys:
        if key is not None:
            groups.setdefault(key, []).append(name)
    aliases = {}
    for names in groups.values():
        kept = min(names)
        aliases.update({n: kept for n in names if n != kept})
    return aliases


OPTIONS_DOC = """
    The format follows the extension (``.safetensors``, ``.gguf``, ``.npz``,
    ``.npy``) or ``format``; anything else is OWF. Keyword-only options:

    - ``license``: an SPDX expression ("Apache-2.0"), a dict of license
      fields ({"spdx": ..., "copyright": [...], "url": ...}), or
      "NOASSERTION" explicitly. Required for OWF files.
    - ``provenance``: {"name", "version", "architecture", "description",
      "authors", "source_url", "base_models", "training_data", "software",
      "created"} (any subset).
    - ``hyperparameters``: {key: bool | int | float | str | list of one of
      them}; NumPy scalars and 1-D arrays keep their width (np.uint32 -> u32).
    - ``compression="zstd"`` (OWF) stores tensors as zstd chunks at
      ``compression_level`` (default 3); ``alignment``: data alignment in
      bytes (OWF default 64).
    - ``format``: "owf", "safetensors", "gguf", "npz" or "npy".

    Tensors that are the same (tied weights; identical views of one buffer)
    are stored once and the aliasing is recorded as metadata
    ``owf.alias.<name>`` = ``<stored name>``, so that loading gives back one
    tensor under every name; other overlapping views are stored each on
    their own. The file appears complete or not at all.
"""


def save(
    filename: "str | os.PathLike[str]",
    entries: List[Entry],
    aliases: Dict[str, str],
    metadata: Optional[Dict[str, str]] = None,
    *,
    license: Any = None,
    provenance: Optional[Dict[str, Any]] = None,
    hyperparameters: Optional[Dict[str, Any]] = None,
    compression: Optional[str] = None,
    compression_level: int = 3,
    alignment: Optional[int] = None,
    format: Optional[str] = None,
    sync: bool = True,
) -> None:
    """Writes ``entries`` (see OPTIONS_DOC for the options)."""
    filename = os.fspath(filename)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of str to str, not {type(metadata).__name__}")
    metadata = dict(metadata or {})
    for alias, kept in aliases.items():
        key = ALIAS_PREFIX + alias
        if metadata.get(key, kept) != kept:
            raise OWFError(ErrorCode.BAD_METADATA, f"metadata '{key}' is given and differs from the tied tensor '{kept}'")
        metadata[key] = kept
    if compression in (None, "none"):
        compress = False
    elif compression == "zstd":
        compress = True
    else:
        raise OWFError(ErrorCode.INVALID_ARGUMENT, f"unknown compression {compression!r} (None or 'zstd')")
    _owf.save(
        filename,
        target_format(filename, format),
        entries,
        license,
        provenance,
        hyperparameters,
        metadata,
        alignment,
        compress,
        compression_level,
        sync,
    )


def save_bytes(entries: List[Entry], aliases: Dict[str, str], metadata=None, *, format=None, **options) -> bytes:
    """The file ``save`` would write (default format OWF), as bytes."""
    with tempfile.TemporaryDirectory(prefix="owf-") as d:
        path = os.path.join(d, "tensors")
        save(path, entries, aliases, metadata, format=format or "owf", sync=False, **options)
        with open(path, "rb") as f:
            return f.read()


def open_bytes(data, framework: str):
    """A safe_open over a file held in memory: an OWF file directly (copied
    once into an aligned buffer), other formats through a temporary file."""
    from ._open import safe_open

    try:
        return safe_open._of_bytes(data, framework)
    except OWFError as e:
        if e.code != ErrorCode.BAD_MAGIC:
            raise
    with tempfile.TemporaryDirectory(prefix="owf-") as d:
        path = os.path.join(d, "tensors")
        with open(path, "wb") as f:
            f.write(memoryview(data))
        return safe_open(path, framework)
