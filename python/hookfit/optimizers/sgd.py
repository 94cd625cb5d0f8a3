"""SGD with optional (Nesterov) momentum, Keras 2's formula and defaults."""

from __future__ import annotations

from hookfit._native import core
from hookfit.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent: ``m = momentum*m - lr*g; w += m`` (``w -= lr*g``
    without momentum; Nesterov: ``w += momentum*m - lr*g``).

    >>> opt = SGD(learning_rate=0.1, momentum=0.9)
    """

    _kind = core.OPT_SGD
    _hyper_names = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must be between [0, 1]; got {momentum}")
        self.momentum = momentum
        self.nesterov = bool(nesterov)
