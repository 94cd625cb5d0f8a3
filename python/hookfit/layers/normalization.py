"""``Normalization``: ``(x - mean) / max(sqrt(variance), 1e-7)`` per feature.

The statistics come from ``adapt(data)`` (the mean and the population
variance of each feature over the samples, as Keras computes them) or from
``mean=``/``variance=`` given at construction. As in tf-keras 2, an adapted
layer's weights are ``[mean, variance, count]`` (count: the number of samples
seen, an int64 scalar; Keras 3 keeps only mean and variance), and a layer
given ``mean``/``variance`` has no weights (the values are constants).
"""

from __future__ import annotations

import numpy as np

from hookfit.layers.layer import node_kind, Layer, check_weight, flat_width
from hookfit.unsupported import unsupported

# Keras's backend.epsilon(): the floor of the standard deviation.
_EPSILON = 1e-7


class Normalization(Layer):
    """``Normalization(axis=-1, mean=None, variance=None)`` with ``adapt(data)``."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        if axis not in (-1, 1, (-1,), [-1], (1,), [1]):
            raise unsupported(f"Normalization(axis={axis!r})", "axes",
                              ["-1 (one mean and variance per feature, also spelt 1)"])
        if invert:
            raise unsupported("Normalization(invert=True)", "values", ["invert=False"])
        if (mean is None) != (variance is None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean!r} and variance={variance!r}"
            )
        super().__init__(**kwargs)
        self.axis = -1
        self.invert = False
        self.input_mean = None if mean is None else self._check_stat(mean, "mean")
        self.input_variance = None if variance is None else self._check_stat(variance, "variance")
        self._count = np.zeros((), dtype=np.int64)

    def _check_stat(self, value, argument):
        array = np.asarray(value, dtype=np.float64)
        if array.ndim > 1 or not np.isfinite(array).all():
            raise ValueError(
                f"Normalization: {argument} must be a finite number or a 1-D array with one value "
                f"per feature; got shape {array.shape}"
            )
        if argument == "variance" and (array < 0).any():
            raise ValueError("Normalization: variance must be >= 0")
        return array

    @property
    def _fixed(self) -> bool:
        return self.input_mean is not None

    def _output_shape(self, shapes):
        width = flat_width(shapes[0], f"Normalization layer {self.name!r}")
        for stat in (self.input_mean, self.input_variance):
            if stat is not None and stat.ndim == 1 and stat.shape[0] not in (1, width):
                raise ValueError(
                    f"Normalization layer {self.name!r}: mean/variance have {stat.shape[0]} values "
                    f"but the input has {width} features"
                )
        return (None, width)

    def _weight_specs(self, shapes):
        width = flat_width(shapes[0], "Normalization")
        if self._fixed:
            mean, variance = self.input_mean, self.input_variance
            return [
                ("mean", (width,), lambda s: np.broadcast_to(mean, s), False),
                ("variance", (width,), lambda s: np.broadcast_to(variance, s), False),
            ]
        return [("mean", (width,), "zeros", False), ("variance", (width,), "ones", False)]

    mean = property(lambda self: self._weight("mean"))
    variance = property(lambda self: self._weight("variance"))

    @property
    def non_trainable_weights(self) -> list:
        if not self.built or self._fixed:
            return []
        return [*self._variables, self._count]

    @property
    def trainable_weights(self) -> list:
        return []

    def set_weights(self, weights) -> None:
        weights = list(weights)
        if self._fixed or not self.built:
            if weights:
                raise ValueError(f"layer {self.name!r} has no weights; got {len(weights)} arrays")
            return
        if len(weights) not in (2, 3):
            raise ValueError(
                f"layer {self.name!r} expects 3 weight arrays (mean, variance, count); "
                f"got {len(weights)}"
            )
        width = self._variables[0].shape
        mean = check_weight(weights[0], width, f"layer {self.name!r}: mean")
        variance = check_weight(weights[1], width, f"layer {self.name!r}: variance")
        count = self._count
        if len(weights) == 3:
            count = np.asarray(weights[2])
            if count.shape != () or count.dtype.kind not in "iuf" or count < 0:
                raise ValueError(f"layer {self.name!r}: count must be a non-negative scalar")
        self._variables[0][...] = mean
        self._variables[1][...] = variance
        self._count[...] = count

    def adapt(self, data, batch_size=None, steps=None):
        """Set the mean and variance of each feature from ``data`` (samples, features)."""
        if self._fixed:
            raise ValueError(
                f"layer {self.name!r} was given mean and variance; it cannot be adapted"
            )
        if steps is not None:
            raise unsupported("Normalization.adapt(steps=...)", "arguments", ["data", "batch_size"])
        x = np.asarray(data)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"adapt: data must hold real numbers; got dtype {x.dtype}")
        if x.ndim == 1:
            x = x.reshape(-1, 1)  # Keras treats a 1-D array as one feature
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"adapt: data must be 2-D (samples, features) and non-empty; got {x.shape}")
        x = x.astype(np.float64)
        if not np.isfinite(x).all():
            raise ValueError("adapt: data contains NaN or infinity")
        shapes = [(None, x.shape[1])]
        if not self.built:
            self._build(shapes)
        else:
            self._check_same_shapes(shapes)
        self._variables[0][...] = x.mean(axis=0)
        self._variables[1][...] = x.var(axis=0)
        self._count[...] = x.shape[0]

    def _graph_node(self, inputs):
        return {"kind": node_kind("NORMALIZATION"), "inputs": list(inputs), "epsilon": _EPSILON}

    def _eager(self, arrays, training):
        std = np.maximum(np.sqrt(self.variance), np.float32(_EPSILON))
        return ((arrays[0] - self.mean) / std).astype(np.float32)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis, invert=False,
            mean=None if self.input_mean is None else self.input_mean.tolist(),
            variance=None if self.input_variance is None else self.input_variance.tolist(),
        )
        return config
