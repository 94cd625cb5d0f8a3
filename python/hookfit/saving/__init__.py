"""Saving: weights files and whole-model files, in Keras's formats and hookfit's.

Formats by suffix: whole models to ``.keras`` (Keras 3), ``.h5`` (Keras 2)
or ``.npz`` (hookfit); weights to ``.weights.h5`` (Keras 3), ``.h5``
(Keras 2) or ``.npz``. Every file is written atomically
(``hookfit.utils.atomic``) and read as untrusted input (``FileFormatError``
and ``UnsafeFileError`` name the file and what is wrong).
"""

from hookfit.saving.file_errors import (
    ChecksumMismatchError,
    FileFormatError,
    UnsafeFileError,
    UnsupportedConfigError,
)
from hookfit.saving.layer_weights import WeightsMismatchError
from hookfit.saving.model_file import load_model, save_model
from hookfit.saving.paths import check_checkpoint_path
from hookfit.saving.state_codec import load_state, save_state
from hookfit.saving.verify import VerificationError, verify
from hookfit.saving.weights import load_weights, save_weights
from hookfit.utils.atomic import (
    UnwritableDirectoryError,
    atomic_path,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
)

__all__ = [
    "ChecksumMismatchError",
    "FileFormatError",
    "UnsafeFileError",
    "UnsupportedConfigError",
    "UnwritableDirectoryError",
    "VerificationError",
    "WeightsMismatchError",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_checkpoint_path",
    "load_model",
    "load_state",
    "load_weights",
    "save_model",
    "save_state",
    "save_weights",
    "verify",
]
