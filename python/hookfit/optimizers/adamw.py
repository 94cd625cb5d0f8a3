"""AdamW: Adam with decoupled weight decay (default 0.004), Keras's formula."""

from __future__ import annotations

from hookfit.optimizers.adam import Adam


class AdamW(Adam):
    """Adam whose weights also shrink by ``lr * weight_decay`` each step
    (before the Adam update, as Keras applies it).

    >>> opt = AdamW(learning_rate=1e-3, weight_decay=0.004)
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="AdamW", **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, name, weight_decay=weight_decay, **kwargs)
