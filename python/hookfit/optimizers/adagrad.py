"""Adagrad, Keras's formula (epsilon inside the root) and defaults."""

from __future__ import annotations

import math

from hookfit._native import core
from hookfit.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    """``acc += g^2; w -= lr g / sqrt(acc + epsilon)``, acc starting at
    ``initial_accumulator_value``.

    >>> opt = Adagrad(learning_rate=1e-3)
    """

    _kind = core.OPT_ADAGRAD
    _hyper_names = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="Adagrad", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        if not (math.isfinite(self.initial_accumulator_value) and self.initial_accumulator_value >= 0):
            raise ValueError(f"`initial_accumulator_value` must be >= 0; got {initial_accumulator_value}")
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ValueError(f"`epsilon` must be >= 0; got {epsilon}")
