"""``to_categorical`` and ``normalize``, as ``keras.utils`` has them."""

from __future__ import annotations

import numbers

import numpy as np


def _string_labels_error(what: str, dtype) -> TypeError:
    return TypeError(
        f"{what} holds strings (dtype {dtype}); encode them as class ids first, e.g. "
        "classes, ids = np.unique(labels, return_inverse=True) (a StringLookup-style "
        "mapping), then to_categorical(ids) for one-hot rows"
    )


def to_categorical(y, num_classes=None, dtype="float32"):
    """Class ids (integers in ``[0, num_classes)``) as one-hot rows.

    A trailing axis of size 1 is dropped first, so ``(n, 1)`` labels give
    ``(n, num_classes)``. ``num_classes`` defaults to ``max(y) + 1``. The
    result is float32 by default (Keras 2's ``dtype="float32"``).

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    labels = np.asarray(y)
    if labels.dtype.kind in "USO":
        raise _string_labels_error("to_categorical's input", labels.dtype)
    if labels.dtype.kind not in "iubf":
        raise TypeError(f"to_categorical expects integer class ids; got dtype {labels.dtype}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.floor(labels)):
            raise ValueError(
                "to_categorical expects integer class ids; the input has non-integer "
                "or non-finite values"
            )
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    ids = labels.reshape(-1).astype(np.int64)
    if ids.size and ids.min() < 0:
        raise ValueError(
            f"to_categorical expects class ids >= 0; got {int(ids.min())}. Map labels to "
            "0..num_classes-1 first (e.g. with np.unique(labels, return_inverse=True))"
        )
    if num_classes is None:
        num_classes = int(ids.max()) + 1 if ids.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer; got {num_classes!r}")
    num_classes = int(num_classes)
    if ids.size and ids.max() >= num_classes:
        raise ValueError(
            f"to_categorical: class id {int(ids.max())} is out of range for "
            f"num_classes={num_classes}; ids must be in [0, {num_classes})"
        )
    out = np.zeros((ids.size, num_classes), dtype=dtype)
    out[np.arange(ids.size), ids] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (rows whose norm
    is zero are left as they are).

    >>> normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    x = np.asarray(x)
    if x.dtype.kind not in "iubf":
        raise TypeError(f"normalize expects an array of real numbers; got dtype {x.dtype}")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"normalize: axis must be an integer; got {axis!r}")
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"normalize: axis {axis} is out of range for an array of shape {x.shape}")
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
