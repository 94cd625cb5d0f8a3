"""Nadam with tf-keras 2's formula (momentum schedule 0.96**t)."""

from __future__ import annotations

from hookfit._native import core
from hookfit.optimizers.adam import Adam


class Nadam(Adam):
    """Adam with Nesterov momentum. tf-keras's schedule: ``u_t = beta_1 *
    (1 - 0.5 * 0.96**t)`` (Keras 3 uses ``0.96**(0.004 t)``; hookfit follows
    Keras 2).

    >>> opt = Nadam(learning_rate=1e-3)
    """

    _kind = core.OPT_NADAM
    _hyper_names = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="Nadam", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, False, name, **kwargs)
