"""Checking and shaping the arrays given to fit/evaluate/predict.

Everything here runs before any weight changes, so bad input fails fast
with a message naming the argument. Conversion to the core's float32 rows
(and the NaN/inf scan) happens once per call, in ``hookfit._native.Dataset``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from hookfit._native import Dataset, core
from hookfit.utils.arguments import is_integer


def as_array(value, argument: str) -> np.ndarray:
    """``value`` as a real-valued ndarray (no copy when it already is one)."""
    if value is None:
        raise ValueError(f"{argument} is required; got None")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{argument} must be an array of numbers; {e}") from None
    if array.dtype.kind not in "fiub":  # float, int, unsigned, bool
        if _holds_strings(array):
            raise TypeError(_strings_message(argument, array.dtype))
        raise TypeError(
            f"{argument} must hold real numbers; got dtype {array.dtype}. "
            f"Convert it, e.g. np.asarray({argument.rsplit(' ', 1)[-1]}, dtype='float32')"
        )
    return array


def _holds_strings(array: np.ndarray) -> bool:
    if array.dtype.kind in "US":
        return True
    return array.dtype.kind == "O" and array.size > 0 and isinstance(array.flat[0], (str, bytes))


def _strings_message(argument: str, dtype) -> str:
    """Strings cannot be cast to numbers: say how to encode them."""
    name = argument.rsplit(" ", 1)[-1]
    if name.endswith("y"):
        return (
            f"{argument} holds strings (dtype {dtype}); labels must be numbers. Encode them "
            f"first: class ids with classes, ids = np.unique({name}, return_inverse=True) (a "
            "StringLookup-style mapping) for loss='sparse_categorical_crossentropy', or "
            "one-hot rows with hookfit.utils.to_categorical(ids) for "
            "'categorical_crossentropy'"
        )
    return (
        f"{argument} holds strings (dtype {dtype}); features must be numbers. Encode each "
        "text column first, e.g. ids via np.unique(column, return_inverse=True) and then "
        "one-hot columns with hookfit.utils.to_categorical(ids)"
    )


def check_features(x: np.ndarray, input_dim: int | None, argument: str = "x") -> np.ndarray:
    if x.ndim != 2:
        hint = " (reshape it with x.reshape(len(x), -1))" if x.ndim > 2 else ""
        if x.ndim == 1:
            hint = " (a single feature per row: x.reshape(-1, 1))"
        raise ValueError(
            f"{argument} must be 2-D (samples, features); got shape {x.shape}{hint}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{argument} is empty (shape {x.shape}); pass at least one sample")
    if input_dim is not None and x.shape[1] != input_dim:
        raise ValueError(
            f"{argument} has {x.shape[1]} features per sample but the model's input_dim "
            f"is {input_dim}; pass arrays of shape (samples, {input_dim})"
        )
    return x


# Crossentropies compare whole rows (categorical) or go through logits whose
# shapes must match (binary, from a sigmoid): Keras 2 refuses a single y
# column against k outputs for them; every other loss broadcasts it.
_NO_BROADCAST = (core.LOSS_BCE, core.LOSS_CCE)


def check_targets(y: np.ndarray, n: int, output_dim: int, loss_code: int, argument="y"):
    """``y`` as (n, columns) for the loss, with the labels checked."""
    if y.shape[:1] != (n,):
        raise ValueError(
            f"x has {n} samples but {argument} has {y.shape[0] if y.ndim else 0}; "
            "they must have the same length"
        )
    if loss_code == core.LOSS_SCCE:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"sparse_categorical_crossentropy takes class ids: {argument} must have shape "
                f"({n},) or ({n}, 1); got {y.shape}. For one-hot labels use "
                "categorical_crossentropy"
            )
        finite = np.isfinite(y) if y.dtype.kind == "f" else True
        if not np.all(finite):
            raise ValueError(f"{argument} contains NaN or infinity; remove those samples")
        bad = (y < 0) | (y >= output_dim) | (y != np.floor(y))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(
                f"{argument} holds class ids for sparse_categorical_crossentropy, which must "
                f"be integers in [0, {output_dim}) for a model with {output_dim} outputs; "
                f"sample {i} has label {y[i].item():g}"
            )
        return y.reshape(n, 1)
    if y.ndim == 1:
        y = y.reshape(n, 1)
    narrow = y.ndim == 2 and y.shape[1] == 1 and output_dim > 1
    if narrow and loss_code not in _NO_BROADCAST:
        # Keras 2 gives a 1-D y a trailing axis and the loss broadcasts
        # (n, 1) against (n, k): every output column is compared with the
        # same target (a regression with k outputs and one target).
        return np.broadcast_to(y, (n, output_dim))
    if y.ndim != 2 or y.shape[1] != output_dim:
        hint = ""
        if narrow and loss_code == core.LOSS_CCE:
            hint = (
                ". For class ids use loss='sparse_categorical_crossentropy', or one-hot "
                f"rows: hookfit.utils.to_categorical({argument.rsplit(' ', 1)[-1]}, {output_dim})"
            )
        elif narrow:
            hint = ". binary_crossentropy takes one 0/1 target per output (Keras 2 refuses a single column here too)"
        raise ValueError(
            f"{argument} must have shape ({n}, {output_dim}) to match the model's "
            f"{output_dim} output(s); got {y.shape}{hint}"
        )
    return y


def check_sample_weight(sample_weight, n: int, argument="sample_weight"):
    if sample_weight is None:
        return None
    w = as_array(sample_weight, argument)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (n,):
        raise ValueError(f"{argument} must have shape ({n},), one weight per sample; got {w.shape}")
    return w


def check_batch_size(batch_size, argument="batch_size") -> int:
    if not is_integer(batch_size):
        raise TypeError(f"{argument} must be a positive integer; got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"{argument} must be a positive integer; got {batch_size}")
    return int(batch_size)


def check_positive_int(value, argument: str, allow_none=True):
    if value is None and allow_none:
        return None
    if not is_integer(value) or value < 1:
        raise ValueError(f"{argument} must be a positive integer; got {value!r}")
    return int(value)


def default_batch_size(batch_size, n: int, steps) -> int:
    """Keras 2: 32, or ``ceil(n / steps)`` when only the step count is given."""
    if batch_size is None:
        return max(1, math.ceil(n / steps)) if steps else 32
    return check_batch_size(batch_size)


def check_split(validation_split) -> None:
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise TypeError(f"validation_split must be a float in [0, 1); got {validation_split!r}")
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(
            f"validation_split must be in [0, 1) (the fraction of samples held out); "
            f"got {validation_split}"
        )


def split_at(n: int, validation_split: float) -> int:
    """Rows kept for training: ``floor(n * (1 - validation_split))`` (Keras 2)."""
    check_split(validation_split)
    at = int(math.floor(n * (1.0 - validation_split)))
    if at == 0 or at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it "
            f"into a validation and training set as specified by "
            f"`validation_split={validation_split}`. Either provide more data, or a "
            "different value for the `validation_split` argument."
        )
    return at


def unpack_validation_data(validation_data):
    """``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(
            "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
            f"val_sample_weight); got {type(validation_data).__name__}"
            + (f" of length {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else "")
        )
    x, y, *rest = validation_data
    return x, y, (rest[0] if rest else None)


def make_dataset(x, y=None, sample_weight=None, *, for_training=True) -> Dataset:
    """Convert once to the core's float32 rows.

    Data to train on is also checked for NaN/inf (one extra read of x), so
    a bad value is reported before any weight changes. evaluate/predict skip
    that pass, as Keras does: it would double their cost, and a NaN input
    shows up as a NaN output there, changing nothing.
    """
    return Dataset(x, y, sample_weight, check_finite=for_training)


def class_weights_to_sample_weight(class_weight, y: np.ndarray, sample_weight):
    """Keras 2's ``class_weight``: each sample weighted by its class's weight."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class id: weight}}; got {class_weight!r}")
    keys = sorted(class_weight)
    if keys != list(range(len(keys))):
        raise ValueError(
            "Expected `class_weight` to be a dict with keys from 0 to one less than the "
            f"number of classes, found {class_weight}"
        )
    table = np.array([float(class_weight[k]) for k in keys], dtype=np.float64)
    ids = y[:, 0] if y.shape[1] == 1 else np.argmax(y, axis=1)
    ids = np.rint(ids).astype(np.int64)
    if ids.min() < 0 or ids.max() >= len(table):
        raise ValueError(
            f"class_weight has weights for classes 0..{len(table) - 1} but the labels "
            f"contain class {int(ids.max() if ids.max() >= len(table) else ids.min())}"
        )
    weights = table[ids]
    return weights if sample_weight is None else weights * sample_weight
