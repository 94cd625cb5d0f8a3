"""Lion (sign of an interpolated momentum), Keras's formula and defaults."""

from __future__ import annotations

from hookfit._native import core
from hookfit.optimizers.optimizer import Optimizer


class Lion(Optimizer):
    """``w -= lr sign(b1 m + (1-b1) g); m = b2 m + (1-b2) g``.

    >>> opt = Lion(learning_rate=1e-4)
    """

    _kind = core.OPT_LION
    _hyper_names = ("beta_1", "beta_2")

    def __init__(self, learning_rate=0.0001, beta_1=0.9, beta_2=0.99, name="Lion", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        if not 0.0 < self.beta_1 <= 1.0:
            raise ValueError(f"Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to SignSGD. Received: beta_1={beta_1}.")
        if not 0.0 <= self.beta_2 <= 1.0:
            raise ValueError(f"`beta_2` must be in [0, 1]; got {beta_2}")
