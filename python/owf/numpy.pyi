"""Type stubs of owf.numpy."""

from typing import Dict, Optional

import numpy as np
from typing_extensions import Unpack

from . import PathLike, SaveOptions

def save_file(
    tensor_dict: Dict[str, np.ndarray], filename: PathLike, metadata: Optional[Dict[str, str]] = None,
    **options: Unpack[SaveOptions],
) -> None: ...
def save(
    tensor_dict: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None, **options: Unpack[SaveOptions]
) -> bytes: ...
def load_file(filename: PathLike) -> Dict[str, np.ndarray]: ...
def load(data: bytes) -> Dict[str, np.ndarray]: ...
