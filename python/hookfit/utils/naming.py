"""Keras-style default names: ``dense``, ``dense_1``, ``sequential``, ..."""

from __future__ import annotations

import collections

_counts: collections.Counter = collections.Counter()


def unique_name(base: str) -> str:
    """``base`` the first time, then ``base_1``, ``base_2``, ... (per process)."""
    n = _counts[base]
    _counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def reset() -> None:
    """Restart every counter (``hookfit.backend.clear_session``)."""
    _counts.clear()
