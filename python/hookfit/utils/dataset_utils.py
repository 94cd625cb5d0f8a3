"""``split_dataset`` for arrays, with Keras's size rules."""

from __future__ import annotations

import random

import numpy as np

from hookfit.utils import rng


def _split_sizes(left_size, right_size, total: int) -> tuple[int, int]:
    """Keras's rules: an int is a count in (0, total), a float a fraction in
    (0, 1) rounded to the nearest count, None the complement of the other."""
    # NumPy scalars count as the Python numbers they hold.
    left_size, right_size = (
        s.item() if isinstance(s, (np.integer, np.floating)) else s for s in (left_size, right_size)
    )
    if left_size is None and right_size is None:
        raise ValueError(
            "At least one of the `left_size` or `right_size` must be specified. "
            "Received: left_size=None and right_size=None"
        )
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(
                f"Invalid `{name}` Type. Expected: int or float or None, "
                f"Received: type({name})={type(size)}."
            )
    if left_size == 0 and right_size == 0:
        raise ValueError(
            "Both `left_size` and `right_size` are zero. At least one of the split "
            "sizes must be non-zero."
        )
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if (type(size) is int and not 0 < size < total) or (type(size) is float and not 0 < size < 1):
            raise ValueError(
                f"`{name}` should be either a positive integer smaller than {total}, or a "
                f"float within the range `[0, 1]`. Received: {name}={size}"
            )
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError(
            "The sum of `left_size` and `right_size` is greater than 1. It must be "
            "less than or equal to 1."
        )
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(
            f"The sum of `left_size` and `right_size` should be smaller than the {total}. "
            f"Received: left_size + right_size = {left + right} and total_length = {total}"
        )
    for side, size in (("left", left), ("right", right)):
        if size == 0:
            raise ValueError(
                f"With `dataset` of length={total}, `left_size`={left} and "
                f"`right_size`={right}. Resulting {side} side dataset split will be "
                "empty. Adjust any of the aforementioned parameters"
            )
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split an array, or a tuple/list of arrays of the same length, into a
    left and a right part (e.g. train/test), as ``keras.utils.split_dataset``.

    Returns ``(left, right)`` in the structure given (arrays stay arrays, a
    tuple of arrays gives tuples); Keras returns ``tf.data.Dataset`` objects,
    hookfit has no such type. The left part is the first ``left_size``
    samples and the right part the last ``right_size`` ones, after an
    optional shuffle that reproduces Keras's order for the same ``seed``
    (Python's ``random.shuffle`` seeded with it).

    >>> x = np.arange(10)
    >>> left, right = split_dataset(x, left_size=0.8)
    >>> len(left), len(right)
    (8, 2)
    """
    if isinstance(dataset, (tuple, list)):
        arrays = [np.asarray(a) for a in dataset]
        if not arrays:
            raise ValueError("split_dataset: the dataset is an empty tuple; pass arrays")
    elif isinstance(dataset, np.ndarray):
        arrays = [dataset]
    else:
        raise TypeError(
            "The `dataset` argument must be a NumPy array or a list/tuple of arrays of "
            f"the same length. Received: dataset of type {type(dataset).__name__}"
        )
    if any(a.ndim == 0 for a in arrays):
        raise ValueError("split_dataset: every array needs a first (sample) axis")
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(
            "split_dataset: the arrays must have the same length (one row per sample); "
            f"got lengths {[len(a) for a in arrays]}"
        )
    total = lengths.pop()
    left, right = _split_sizes(left_size, right_size, total)
    order = np.arange(total)
    if shuffle:
        if seed is None:
            seed = int(rng.generator().integers(0, 10**6 + 1))
        # The same permutation as Keras's random.seed(seed); random.shuffle(rows),
        # without reseeding Python's global generator.
        permutation = list(range(total))
        random.Random(seed).shuffle(permutation)
        order = np.asarray(permutation)
    left_rows, right_rows = order[:left], order[total - right :]
    lefts = [a[left_rows] for a in arrays]
    rights = [a[right_rows] for a in arrays]
    if isinstance(dataset, np.ndarray):
        return lefts[0], rights[0]
    kind = type(dataset) if type(dataset) in (tuple, list) else tuple
    return kind(lefts), kind(rights)
