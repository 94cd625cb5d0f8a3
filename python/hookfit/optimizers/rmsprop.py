"""RMSprop, Keras 2's formula (epsilon inside the square root) and defaults."""

from __future__ import annotations

import math

from hookfit._native import core
from hookfit.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    """``v = rho*v + (1-rho)*g^2; w -= lr*g / sqrt(v + epsilon)``, with
    optional momentum and the centered variant.

    >>> opt = RMSprop(learning_rate=0.1)
    """

    _kind = core.OPT_RMSPROP
    _hyper_names = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        name="RMSprop",
        **kwargs,
    ):
        super().__init__(learning_rate, name, **kwargs)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"`rho` must be in [0, 1); got {rho}")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"`momentum` must be between [0, 1]; got {momentum}")
        if not (math.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"`epsilon` must be a positive number; got {epsilon}")
