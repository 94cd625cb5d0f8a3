"""The Dataset twin."""

from __future__ import annotations

import math

import numpy as np

from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401
from hookfit._reference.shuffle import permutation


# --------------------------------------------------------------------------
# Dataset


def _as_float32_2d(name, a):
    a = np.asarray(a)
    if a.ndim != 2:
        raise CoreValueError(f"{name} must be 2-D (rows, columns); got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _check_finite(name, a):
    bad = ~np.isfinite(a)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise CoreValueError(
            f"{name} contains NaN or infinity (first at row {row}); "
            "remove or impute those values before training"
        )


class Dataset:
    def __init__(self, x, y=None, sample_weight=None, *, check_finite=True):
        x = _as_float32_2d("x", x)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise CoreValueError(f"x is empty (shape {x.shape}); pass at least one row")
        if check_finite:
            _check_finite("x", x)
        n = x.shape[0]
        if y is not None:
            y = _as_float32_2d("y", y)
            if y.shape[0] != n:
                raise CoreValueError(f"x has {n} rows but y has {y.shape[0]}; they must match")
            if check_finite:
                _check_finite("y", y)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float32)
            if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
                raise CoreValueError(
                    f"sample_weight must have shape ({n},); got {sample_weight.shape}"
                )
            if check_finite:
                _check_finite("sample_weight", sample_weight)
        self._x, self._y, self._sw = x, y, sample_weight
        self._order = None

    n_rows = property(lambda self: self._x.shape[0])
    x = property(lambda self: self._x)
    y = property(lambda self: self._y)
    sample_weight = property(lambda self: self._sw)

    @property
    def n_positions(self):
        return self.n_rows if self._order is None else self._order.shape[0]

    @property
    def order(self):
        return self._order

    def shuffle(self, seed):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise CoreTypeError(f"seed must be an integer in [0, 2**64); got {seed!r}")
        self._order = permutation(self.n_rows, int(seed))

    def set_order(self, order):
        if order is None:
            self._order = None
            return
        order = np.asarray(order)
        if order.ndim != 1 or not np.issubdtype(order.dtype, np.integer):
            raise CoreTypeError(f"order must be a 1-D integer array; got {order.dtype} {order.shape}")
        if order.size and (order.min() < 0 or order.max() >= self.n_rows):
            raise CoreValueError(f"order values must lie in [0, {self.n_rows})")
        self._order = np.ascontiguousarray(order, dtype=np.int64)

    def _rows(self, start, count):
        if self._order is None:
            return slice(start, start + count)
        return self._order[start : start + count]
