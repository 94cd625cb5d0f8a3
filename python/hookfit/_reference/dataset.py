"""The Dataset twin."""

from __future__ import annotations

import math

import numpy as np

from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401
from hookfit._reference.shuffle import permutation


# --------------------------------------------------------------------------
# Dataset


def _as_float32(name, a, ndim):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise DtypeError(f"{name} must hold real numbers; got an array of dtype {a.dtype}")
    if a.ndim != ndim:
        raise ShapeError(f"{name} must be a {ndim}-D array; got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _check_finite(name, a):
    bad = ~np.isfinite(a)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise NonFiniteError(
            f"{name} must be finite; row {row} holds NaN or infinity (clean or drop that row)"
        )


class Dataset:
    def __init__(self, x, y=None, sample_weight=None, *, check_finite=True):
        x = _as_float32("x", x, 2)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ShapeError(f"x must have at least one row and one column; got shape {x.shape}")
        if check_finite:
            _check_finite("x", x)
        n = x.shape[0]
        if y is not None:
            y = _as_float32("y", y, 2)
            if y.shape[0] != n:
                raise ShapeError(f"y must have as many rows as x ({n}); got {y.shape[0]}")
            if y.shape[1] == 0:
                raise ShapeError(f"y must have at least one column; got shape {y.shape}")
            if check_finite:
                _check_finite("y", y)
        if sample_weight is not None:
            sample_weight = _as_float32("sample_weight", sample_weight, 1)
            if sample_weight.shape[0] != n:
                raise ShapeError(
                    f"sample_weight must have one value per row of x ({n}); got {sample_weight.shape[0]}"
                )
            if check_finite:
                _check_finite("sample_weight", sample_weight)
        self._x, self._y, self._sw = x, y, sample_weight
        self._order = None

    def _ready(self):
        if "_x" not in self.__dict__:
            raise StateError("this Dataset is not initialised; make it with Dataset(x, y, sample_weight)")
        return self

    n_rows = property(lambda self: self._ready()._x.shape[0])
    x = property(lambda self: self._ready()._x)
    y = property(lambda self: self._ready()._y)
    sample_weight = property(lambda self: self._ready()._sw)

    @property
    def n_positions(self):
        return self.n_rows if self._order is None else self._order.shape[0]

    @property
    def order(self):
        return self._ready()._order

    def shuffle(self, seed):
        self._ready()
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise DtypeError(f"seed must be an integer in [0, 2**64); got {seed!r}")
        self._order = permutation(self.n_rows, int(seed))

    def set_order(self, order):
        self._ready()
        if order is None:
            self._order = None
            return
        order = np.asarray(order)
        if order.dtype.kind not in "iu":
            raise DtypeError(f"order must be an array of integers; got dtype {order.dtype}")
        if order.ndim != 1 or order.shape[0] == 0:
            raise ShapeError(f"order must be a non-empty 1-D array; got shape {order.shape}")
        if order.min() < 0 or order.max() >= self.n_rows:
            raise PositionError(f"order values must be row indices in [0, {self.n_rows})")
        self._order = np.ascontiguousarray(order, dtype=np.int64)

    def _rows(self, start, count):
        if self._order is None:
            return slice(start, start + count)
        return self._order[start : start + count]
