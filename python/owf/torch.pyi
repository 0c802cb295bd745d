"""Type stubs of owf.torch."""

from typing import Any, Dict, List, Optional, Tuple

import torch
from typing_extensions import Unpack

from . import PathLike, SaveOptions

def save_file(
    tensors: Dict[str, torch.Tensor], filename: PathLike, metadata: Optional[Dict[str, str]] = None,
    **options: Unpack[SaveOptions],
) -> None: ...
def save(
    tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None, **options: Unpack[SaveOptions]
) -> bytes: ...
def load_file(filename: PathLike, device: Any = "cpu") -> Dict[str, torch.Tensor]: ...
def load(data: bytes) -> Dict[str, torch.Tensor]: ...
def save_model(
    model: torch.nn.Module, filename: PathLike, metadata: Optional[Dict[str, str]] = None,
    force_contiguous: bool = False, **options: Unpack[SaveOptions],
) -> None: ...
def load_model(
    model: torch.nn.Module, filename: PathLike, strict: bool = True, device: Any = "cpu"
) -> Tuple[List[str], List[str]]: ...
