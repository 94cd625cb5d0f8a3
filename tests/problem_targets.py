"""Valid targets for a core loss, shared by the core and distribute tests."""

from __future__ import annotations

import numpy as np

from hookfit import _core as core


def targets(rng, loss, n, k):
    """Valid y for a loss: labels for SCCE, probabilities for CE, values else."""
    if loss == core.LOSS_SCCE:
        return rng.integers(0, k, (n, 1)).astype(np.float32)
    if loss == core.LOSS_CCE:
        return np.eye(k, dtype=np.float32)[rng.integers(0, k, n)]
    if loss == core.LOSS_BCE:
        return rng.integers(0, 2, (n, k)).astype(np.float32)
    return rng.standard_normal((n, k)).astype(np.float32)
