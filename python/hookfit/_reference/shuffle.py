"""The C code's permutation (csrc/hf_shuffle.c)."""

from __future__ import annotations

import numpy as np


# --------------------------------------------------------------------------
# Shuffling: the C code's permutation, step by step (csrc/hf_shuffle.c).

_M64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & _M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return state, z ^ (z >> 31)


def _bounded(state, bound):
    """Uniform in [0, bound): Lemire's multiply-shift (bound < 2**32) or rejection + modulo."""
    if bound <= 0xFFFFFFFF:
        state, r = _splitmix64(state)
        m = (r >> 32) * bound
        if (m & 0xFFFFFFFF) < bound:
            threshold = ((1 << 32) - bound) % bound
            while (m & 0xFFFFFFFF) < threshold:
                state, r = _splitmix64(state)
                m = (r >> 32) * bound
        return state, m >> 32
    threshold = ((1 << 64) - bound) % bound
    while True:
        state, r = _splitmix64(state)
        if r >= threshold:
            return state, r % bound


def permutation(n, seed):
    """Fisher-Yates over 0..n-1 with SplitMix64 draws from ``seed``."""
    out = np.arange(n, dtype=np.int64)
    state = seed
    for i in range(n, 1, -1):
        state, j = _bounded(state, i)
        out[i - 1], out[j] = out[j], out[i - 1]
    return out
