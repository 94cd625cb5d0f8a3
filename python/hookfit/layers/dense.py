"""``Dense``: ``output = activation(input @ kernel + bias)``."""

from __future__ import annotations

import numbers

import numpy as np

from hookfit.layers import activations, initializers
from hookfit.layers.input_layer import feature_count
from hookfit.layers.layer import Layer

_UNSUPPORTED = (
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
)


class Dense(Layer):
    """A densely-connected layer, as ``keras.layers.Dense``.

    Args:
        units: number of outputs (a positive integer).
        activation: ``None``/``"linear"``, ``"relu"``, ``"sigmoid"``,
            ``"tanh"`` or ``"softmax"``.
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: a Keras initializer name or a
            function ``f(shape)`` returning an array.
        input_dim / input_shape: the number of input features, for a first
            layer (``input_dim=784`` or ``input_shape=(784,)``).

    >>> import hookfit as keras
    >>> model = keras.Sequential([keras.layers.Dense(1, input_dim=784)])
    >>> model.layers[0].kernel.shape
    (784, 1)
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        input_dim=None,
        input_shape=None,
        name=None,
        **kwargs,
    ):
        for key in _UNSUPPORTED:
            if kwargs.pop(key, None) is not None:
                raise ValueError(f"Dense: `{key}` is not supported by hookfit; remove it")
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        super().__init__(name=name, **kwargs)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer; got {units!r}")
        self.units = int(units)
        self._activation_code, self.activation = activations.resolve(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.check(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.check(bias_initializer, "bias_initializer")
        # The declared input width, if this is a first layer.
        self.input_dim = None
        if input_dim is not None:
            self.input_dim = feature_count((input_dim,), "input_dim")
        elif input_shape is not None:
            self.input_dim = feature_count(input_shape, "input_shape")
        elif batch_input_shape is not None:
            self.input_dim = feature_count(tuple(batch_input_shape)[1:], "batch_input_shape")
        self._fan_in = self.input_dim  # known for sure once built

    # -- weights (views into the model's flat parameter buffer) ----------------

    def _views(self):
        if not self.built:
            raise ValueError(
                f"layer {self.name!r} has no weights yet: give the first layer "
                "input_dim=..., or call fit/predict (or model.build) first"
            )
        return self._model._network.layer_weights(self._index)

    @property
    def kernel(self) -> np.ndarray:
        """The kernel, shape (inputs, units): a writable view of the weights."""
        return self._views()[0]

    @property
    def bias(self):
        """The bias, shape (units,), or None when ``use_bias=False``."""
        return self._views()[1]

    @property
    def weights(self) -> list:
        if not self.built:
            return []
        kernel, bias = self._views()
        return [kernel] if bias is None else [kernel, bias]

    def get_weights(self) -> list:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"layer {self.name!r} expects {len(own)} weight arrays "
                f"(kernel{', bias' if self.use_bias else ''}); got {len(weights)}"
            )
        arrays = [np.asarray(w, dtype=np.float32) for w in weights]
        for what, dst, src in zip(("kernel", "bias"), own, arrays):
            if src.shape != dst.shape:
                raise ValueError(
                    f"layer {self.name!r}: {what} must have shape {dst.shape}; got {src.shape}"
                )
        for dst, src in zip(own, arrays):
            dst[...] = src

    def _initial_weights(self, fan_in):
        kernel = initializers.draw(
            self.kernel_initializer, (fan_in, self.units), "kernel_initializer"
        )
        bias = None
        if self.use_bias:
            bias = initializers.draw(self.bias_initializer, (self.units,), "bias_initializer")
        return kernel, bias

    @property
    def input_shape(self):
        return (None, self._fan_in)

    @property
    def output_shape(self):
        return (None, self.units)

    def count_params(self) -> int:
        if self._fan_in is None:
            raise ValueError(f"layer {self.name!r} is not built yet; its size is unknown")
        return self._fan_in * self.units + (self.units if self.use_bias else 0)

    def get_config(self) -> dict:
        config = {
            "name": self.name,
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer
            if isinstance(self.kernel_initializer, str)
            else "glorot_uniform",
            "bias_initializer": self.bias_initializer
            if isinstance(self.bias_initializer, str)
            else "zeros",
        }
        if self.input_dim is not None:
            config["batch_input_shape"] = (None, self.input_dim)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)
