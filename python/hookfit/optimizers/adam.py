"""Adam (optionally AMSGrad), Keras 2's formula and defaults."""

from __future__ import annotations

import math

from hookfit._native import core
from hookfit.optimizers.optimizer import Optimizer


class Adam(Optimizer):
    """``m += (g-m)(1-b1); v += (g^2-v)(1-b2);
    w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + epsilon)``.

    >>> opt = Adam(learning_rate=1e-3)
    """

    _kind = core.OPT_ADAM
    _hyper_names: tuple[str, ...] = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        name="Adam",
        **kwargs,
    ):
        super().__init__(learning_rate, name, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)
        for key in ("beta_1", "beta_2"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"`{key}` must be in [0, 1); got {getattr(self, key)}")
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ValueError(f"`epsilon` must be a positive number; got {epsilon}")
