"""Activation layers with a parameter: ``ReLU``, ``LeakyReLU``, ``ELU``, ``Softmax``.

Each runs as the core's activation node; the parameter goes with it as
"alpha" (tf-keras 2 defaults: LeakyReLU alpha=0.3, ELU alpha=1.0).
"""

from __future__ import annotations

import numbers

import numpy as np

from hookfit import activations
from hookfit.layers.activation import Activation
from hookfit.unsupported import unsupported


def _alpha(value, argument, cls):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{cls}: {argument} must be a finite number >= 0; got {value!r}")
    return float(value)


class ReLU(Activation):
    """``max(x, 0)`` (max_value, negative_slope and threshold are not supported)."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        for key, value, default in (("max_value", max_value, None),
                                    ("negative_slope", negative_slope, 0.0),
                                    ("threshold", threshold, 0.0)):
            if value != default:
                raise unsupported(f"ReLU({key}={value!r})", "values", [f"{key}={default}"])
        super().__init__("relu", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        config.update(max_value=None, negative_slope=0.0, threshold=0.0)
        return config


class _AlphaActivation(Activation):
    _name = ""

    def __init__(self, alpha, **kwargs):
        super().__init__(self._name, **kwargs)
        self.alpha = alpha

    def _graph_node(self, inputs):
        node = super()._graph_node(inputs)
        node["alpha"] = self.alpha
        return node

    def _eager(self, arrays, training):
        return activations.get(self._name)(arrays[0], self.alpha)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        config["alpha"] = self.alpha
        return config


class LeakyReLU(_AlphaActivation):
    """``x if x > 0 else alpha * x``; tf-keras 2's default alpha is 0.3
    (Keras 3 spells it negative_slope, also accepted)."""

    _name = "leaky_relu"

    def __init__(self, alpha=0.3, **kwargs):
        if "negative_slope" in kwargs:
            alpha = kwargs.pop("negative_slope")
        super().__init__(_alpha(alpha, "alpha", "LeakyReLU"), **kwargs)


class ELU(_AlphaActivation):
    """``x if x > 0 else alpha * (exp(x) - 1)``."""

    _name = "elu"

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(_alpha(alpha, "alpha", "ELU"), **kwargs)


class Softmax(Activation):
    """Softmax over the feature axis."""

    def __init__(self, axis=-1, **kwargs):
        if axis not in (-1, 1):
            raise unsupported(f"Softmax(axis={axis!r})", "axes", ["-1 (the feature axis)"])
        super().__init__("softmax", **kwargs)
        self.axis = -1

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        config["axis"] = -1
        return config
