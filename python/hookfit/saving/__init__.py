"""Saving: atomic file writes, weights files and whole-model files.

Every file hookfit writes goes through ``atomic_write``/``atomic_path``: a
temporary file in the same directory, fsync, then ``os.replace``.
"""

from hookfit.saving.atomic import (
    UnwritableDirectoryError,
    atomic_path,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
)
from hookfit.saving.layer_weights import WeightsMismatchError
from hookfit.saving.model_file import load_model, save_model
from hookfit.saving.state_codec import load_state, save_state
from hookfit.saving.verify import VerificationError, verify
from hookfit.saving.weights import load_weights, save_weights

__all__ = [
    "UnwritableDirectoryError",
    "VerificationError",
    "WeightsMismatchError",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_model",
    "load_state",
    "load_weights",
    "save_model",
    "save_state",
    "save_weights",
    "verify",
]
