"""Adamax (Adam on the infinity norm), Keras's formula and defaults."""

from __future__ import annotations

from hookfit._native import core
from hookfit.optimizers.adam import Adam


class Adamax(Adam):
    """``m += (g-m)(1-b1); u = max(b2 u, |g|); w -= lr m / ((1-b1^t)(u + eps))``.

    >>> opt = Adamax(learning_rate=1e-3)
    """

    _kind = core.OPT_ADAMAX
    _hyper_names = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="Adamax", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, False, name, **kwargs)
