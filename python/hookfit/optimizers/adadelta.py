"""Adadelta, Keras's formula and defaults."""

from __future__ import annotations

import math

from hookfit._native import core
from hookfit.optimizers.optimizer import Optimizer


class Adadelta(Optimizer):
    """``ag = rho ag + (1-rho) g^2; d = -sqrt(adv+eps) g / sqrt(ag+eps);
    adv = rho adv + (1-rho) d^2; w += lr d``.

    >>> opt = Adadelta(learning_rate=1.0)
    """

    _kind = core.OPT_ADADELTA
    _hyper_names = ("rho", "epsilon")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name="Adadelta", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)
        if not 0.0 <= self.rho <= 1.0:
            raise ValueError(f"`rho` must be in [0, 1]; got {rho}")
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ValueError(f"`epsilon` must be >= 0; got {epsilon}")
