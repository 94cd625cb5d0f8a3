"""The benchmark data: MNIST-shaped, generated from a seed (no download).

Every implementation, in every interpreter, builds bit-identical arrays from
this function, so all of them time the same work. Values do not change the
cost of a dense step, but they keep the losses finite and away from the
denormal range.
"""

from __future__ import annotations

import functools
import os

import numpy as np

# Where the rows of x start inside a 64-byte cache line (0, 16, 32 or 48
# bytes), set by ``run.py --row-offset`` for it and its peers; unset: where
# NumPy's allocation puts them. The Dense(1) kernels run at different speeds
# from different offsets (``bench_core.py`` times each), so runs compared
# with each other should have their rows at the same one.
ROW_OFFSET_ENV = "HOOKFIT_BENCH_ROW_OFFSET"
ROW_OFFSETS = (0, 16, 32, 48)


def at_line_offset(a: np.ndarray, offset: int) -> np.ndarray:
    """A copy of the float32 array ``a`` whose data starts ``offset`` bytes
    into a 64-byte line."""
    buf = np.empty(a.size + 32, np.float32)
    start = ((offset - buf.ctypes.data) % 64) // 4
    out = buf[start:start + a.size].reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == offset
    return out


def make(rows: int, input_dim: int = 784, seed: int = 0) -> dict[str, np.ndarray]:
    """x: (rows, input_dim) float32 in [0, 1]; y: digit labels 0..9 as
    float32 (rows, 1) (the tutorial regresses on them); y10: one-hot (rows, 10)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(rows, input_dim), dtype=np.uint8).astype(np.float32) / 255.0
    w = rng.standard_normal(input_dim).astype(np.float32)
    z = x @ w
    z = (z - z.mean()) / (z.std() + 1e-12)
    labels = np.clip(np.round(4.5 + 2.0 * z + rng.normal(0.0, 0.5, rows)), 0, 9)
    y = labels.astype(np.float32).reshape(rows, 1)
    y10 = np.zeros((rows, 10), np.float32)
    y10[np.arange(rows), labels.astype(np.int64)] = 1.0
    offset = os.environ.get(ROW_OFFSET_ENV)
    if offset:
        if offset not in {str(o) for o in ROW_OFFSETS}:
            raise ValueError(f"{ROW_OFFSET_ENV} must be one of {ROW_OFFSETS} (bytes); got {offset!r}")
        x = at_line_offset(x, int(offset))
    return {"x": x, "y": y, "y10": y10}


@functools.cache
def _shared(rows: int, input_dim: int) -> dict[str, np.ndarray]:
    return make(rows, input_dim)  # shared by every case: nobody writes to it


def for_case(case) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) for a ``cases.Case``: its rows, its input width, its targets.

    Cases of the same shape share one array: the C kernels' speed depends on
    where a row starts inside a cache line, and one allocation per case
    would put that difference between cases that are compared.
    """
    d = _shared(case.rows, case.input_dim)
    return d["x"], d["y10"] if case.model == "mlp" else d["y"]


def row_offsets(cases) -> dict[str, int]:
    """Where the rows of each shape of x the cases read start inside a
    64-byte line (bytes), keyed "rows x width"."""
    out = {}
    for c in cases:
        out.setdefault(f"{c.rows}x{c.input_dim}", int(_shared(c.rows, c.input_dim)["x"].ctypes.data % 64))
    return out
