"""hookfit's own random stream: initial weights and per-epoch shuffles.

One NumPy ``Generator`` per process, so that ``set_random_seed(s)`` makes a
run reproducible (initial weights, then the shuffle order of every epoch)
without touching anybody else's global state except, as Keras does, Python's
``random`` and NumPy's legacy global seed.
"""

from __future__ import annotations

import random
import numbers

import numpy as np

_generator = np.random.default_rng()


def generator() -> np.random.Generator:
    """The Generator that hookfit draws initial weights and shuffles from."""
    return _generator


def set_random_seed(seed) -> None:
    """Seed hookfit's random stream (and Python's and NumPy's global ones).

    Args:
        seed: a non-negative integer.

    >>> import hookfit
    >>> hookfit.utils.set_random_seed(1234)
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"set_random_seed expects an integer seed; got {type(seed).__name__} {seed!r}"
        )
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative seed; got {seed}")
    global _generator
    _generator = np.random.default_rng(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def get_state() -> dict:
    """The Generator's bit-generator state (a plain dict; for backups)."""
    return dict(_generator.bit_generator.state)


def set_state(state: dict) -> None:
    """Restore a state returned by ``get_state``."""
    _generator.bit_generator.state = state
