"""FTRL-proximal, Keras's formula and defaults."""

from __future__ import annotations

import math

from hookfit._native import core
from hookfit.optimizers.optimizer import Optimizer


class Ftrl(Optimizer):
    """Follow The Regularized Leader (McMahan et al.), as Keras computes it.

    >>> opt = Ftrl(learning_rate=1e-3, l1_regularization_strength=0.01)
    """

    _kind = core.OPT_FTRL
    _hyper_names = ("learning_rate_power", "initial_accumulator_value", "l1_regularization_strength",
                    "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, name="Ftrl", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        values = dict(learning_rate_power=learning_rate_power, initial_accumulator_value=initial_accumulator_value,
                      l1_regularization_strength=l1_regularization_strength,
                      l2_regularization_strength=l2_regularization_strength,
                      l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength, beta=beta)
        for key, v in values.items():
            v = float(v)
            if not math.isfinite(v):
                raise ValueError(f"`{key}` must be finite; got {v}")
            if key == "learning_rate_power" and v > 0:
                raise ValueError(f"`learning_rate_power` needs to be negative or zero. Received: {v}")
            if key != "learning_rate_power" and v < 0:
                raise ValueError(f"`{key}` needs to be positive or zero. Received: {key}={v}")
            setattr(self, key, v)
