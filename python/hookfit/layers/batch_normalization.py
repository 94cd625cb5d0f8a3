"""``BatchNormalization`` with Keras 2's formulas.

Training: ``y = gamma * (x - mean_b) / sqrt(var_b + epsilon) + beta`` with
the batch's mean and (biased) variance, and the moving statistics updated
once per batch: ``moving = moving * momentum + batch_stat * (1 - momentum)``.
Inference (and training with ``trainable=False``, the TF2 rule): the moving
statistics replace the batch ones and nothing is updated.
"""

from __future__ import annotations

import numbers

import numpy as np

from hookfit.layers import initializers
from hookfit.layers.layer import node_kind, Layer, flat_width, initializer_name
from hookfit.unsupported import unsupported

# tf-keras arguments accepted only at their default (None).
_DEFAULT_OFF = ("renorm_clipping", "virtual_batch_size", "adjustment")


class BatchNormalization(Layer):
    """``BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, ...)``."""

    _has_modes = True

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        synchronized=False,
        fused=None,
        **kwargs,
    ):
        for key in _DEFAULT_OFF:
            if kwargs.get(key) is not None:
                raise unsupported(f"BatchNormalization({key}=...)", "values", ["None"])
            kwargs.pop(key, None)
        for key, value in (("beta_regularizer", beta_regularizer),
                           ("gamma_regularizer", gamma_regularizer),
                           ("beta_constraint", beta_constraint),
                           ("gamma_constraint", gamma_constraint)):
            if value is not None:
                raise unsupported(f"BatchNormalization({key}=...)", "values", ["None"])
        if renorm:
            raise unsupported("BatchNormalization(renorm=True)", "values", ["renorm=False"])
        kwargs.pop("renorm_momentum", None)
        if axis not in (-1, 1) and axis != [-1] and axis != [1]:
            raise unsupported(f"BatchNormalization(axis={axis!r})", "axes",
                              ["-1 (the feature axis, also spelt 1)"])
        for key, value in (("momentum", momentum), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
                raise ValueError(f"BatchNormalization: {key} must be a number; got {value!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1]; got {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0; got {epsilon!r}")
        inits = {}
        for key, value in (("beta_initializer", beta_initializer),
                           ("gamma_initializer", gamma_initializer),
                           ("moving_mean_initializer", moving_mean_initializer),
                           ("moving_variance_initializer", moving_variance_initializer)):
            inits[key] = initializers.check(value, key)
        super().__init__(**kwargs)
        self.axis = -1
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.renorm = False
        self.synchronized = bool(synchronized)
        for key, value in inits.items():
            setattr(self, key, value)

    def _output_shape(self, shapes):
        return (None, flat_width(shapes[0], f"BatchNormalization layer {self.name!r}"))

    def _weight_specs(self, shapes):
        width = (flat_width(shapes[0], "BatchNormalization"),)
        specs = []
        if self.scale:
            specs.append(("gamma", width, self.gamma_initializer, True))
        if self.center:
            specs.append(("beta", width, self.beta_initializer, True))
        specs.append(("moving_mean", width, self.moving_mean_initializer, False))
        specs.append(("moving_variance", width, self.moving_variance_initializer, False))
        return specs

    gamma = property(lambda self: self._weight("gamma"))
    beta = property(lambda self: self._weight("beta"))
    moving_mean = property(lambda self: self._weight("moving_mean"))
    moving_variance = property(lambda self: self._weight("moving_variance"))

    def _graph_node(self, inputs):
        return {"kind": node_kind("BATCHNORM"), "inputs": list(inputs), "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "trainable": self.trainable}

    def _eager(self, arrays, training):
        x = arrays[0].astype(np.float32)
        if training and self.trainable:
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            m = np.float32(self.momentum)
            self.moving_mean[...] = self.moving_mean * m + mean * (1 - m)
            self.moving_variance[...] = self.moving_variance * m + var * (1 - m)
        else:
            mean, var = self.moving_mean, self.moving_variance
        y = (x - mean) / np.sqrt(var + np.float32(self.epsilon))
        if self.scale:
            y = y * self.gamma
        if self.center:
            y = y + self.beta
        return y.astype(np.float32)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
            scale=self.scale,
            beta_initializer=initializer_name(self.beta_initializer, "zeros"),
            gamma_initializer=initializer_name(self.gamma_initializer, "ones"),
            moving_mean_initializer=initializer_name(self.moving_mean_initializer, "zeros"),
            moving_variance_initializer=initializer_name(self.moving_variance_initializer, "ones"),
            beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
            gamma_constraint=None,
        )
        return config
