"""OWF, the Open Weights Format, from Python.

A binding of the OWF C++ library with the API of ``safetensors``:
``owf.safe_open``, ``owf.numpy`` and ``owf.torch`` take the same arguments
as their safetensors namesakes, so that switching is one import line. Every
format the library reads opens through them: OWF, safetensors, GGUF, .npz,
.npy and PyTorch checkpoints (read without executing their pickles).

Beyond safetensors: license, provenance and typed hyperparameters on save
and load, ``weights_digest()``, ``verify()``, ``tensor_sha256()``, zstd
compression, alignment, and :class:`OWFError` with the library's error
codes. Uncompressed OWF tensors load without a copy.

    import owf.torch
    owf.torch.save_file(model.state_dict(), "model.owf", license="Apache-2.0")
    with owf.safe_open("model.owf", framework="pt") as f:
        print(f.license()["spdx"], f.weights_digest())
        weight = f.get_tensor("lm_head.weight")
"""

from . import _owf
from ._errors import ErrorCode, OWFError
from ._open import TensorSlice, safe_open

__version__ = _owf.library_version

#: safetensors' exception name, for code that catches it.
SafetensorError = OWFError

__all__ = ["safe_open", "TensorSlice", "OWFError", "ErrorCode", "SafetensorError", "__version__"]
