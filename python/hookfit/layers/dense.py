"""``Dense``: ``output = activation(input @ kernel + bias)``."""

from __future__ import annotations

import numbers

import numpy as np

from hookfit import activations, regularizers
from hookfit.layers import initializers
from hookfit.layers.layer import node_kind, Layer, flat_width, initializer_name
from hookfit.unsupported import unsupported


# Keras Dense settings hookfit refuses unless None (the file translators read this).
_CONSTRAINTS = ("kernel_constraint", "bias_constraint")


class Dense(Layer):
    """A densely-connected layer, as ``keras.layers.Dense``.

    Args:
        units: number of outputs (a positive integer).
        activation: None (linear), a name from ``hookfit.activations.SUPPORTED``
            or one of the ``hookfit.activations`` (or Keras's) functions.
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: a Keras initializer name or a
            function ``f(shape)`` returning an array.
        kernel_regularizer, bias_regularizer, activity_regularizer: None, a
            ``hookfit.regularizers`` object or "l1"/"l2"/"l1_l2".
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
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        for key, value in zip(_CONSTRAINTS, (kernel_constraint, bias_constraint)):
            if value is not None:
                raise unsupported(f"Dense({key}=...)", "constraints", ["None"])
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer; got {units!r}")
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"Dense: use_bias must be True or False; got {use_bias!r}")
        activation_name = activations.canonical_name(activation)
        kernel_regularizer = regularizers.get(kernel_regularizer)
        bias_regularizer = regularizers.get(bias_regularizer)
        activity_regularizer = regularizers.get(activity_regularizer)
        kernel_initializer = initializers.check(kernel_initializer, "kernel_initializer")
        bias_initializer = initializers.check(bias_initializer, "bias_initializer")
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activation_name
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.activity_regularizer = activity_regularizer

    @property
    def input_dim(self):
        """The declared input width (a first layer's input_dim/input_shape), or None."""
        if self._declared_shape is None or len(self._declared_shape) != 1:
            return None
        return self._declared_shape[0]

    def _output_shape(self, shapes):
        flat_width(shapes[0], f"Dense layer {self.name!r}")
        return (None, self.units)

    def _weight_specs(self, shapes):
        fan_in = flat_width(shapes[0], "Dense")
        specs = [("kernel", (fan_in, self.units), self.kernel_initializer, True)]
        if self.use_bias:
            specs.append(("bias", (self.units,), self.bias_initializer, True))
        return specs

    @property
    def kernel(self) -> np.ndarray:
        """The kernel, shape (inputs, units): a writable view of the weights."""
        return self._weight("kernel")

    @property
    def bias(self):
        """The bias, shape (units,), or None when ``use_bias=False``."""
        return self._weight("bias")

    def _graph_node(self, inputs):
        k1, k2 = regularizers.factors(self.kernel_regularizer)
        b1, b2 = regularizers.factors(self.bias_regularizer)
        a1, a2 = regularizers.factors(self.activity_regularizer)
        return {
            "kind": node_kind("DENSE"), "inputs": list(inputs), "units": self.units,
            "activation": activations.code(self.activation), "use_bias": self.use_bias,
            "trainable": self.trainable, "kernel_l1": k1, "kernel_l2": k2,
            "bias_l1": b1, "bias_l2": b2, "activity_l1": a1, "activity_l2": a2,
        }

    def _eager(self, arrays, training):
        z = arrays[0] @ self.kernel
        if self.use_bias:
            z = z + self.bias
        return activations.get(self.activation)(z)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=initializer_name(self.kernel_initializer, "glorot_uniform"),
            bias_initializer=initializer_name(self.bias_initializer, "zeros"),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            kernel_constraint=None,
            bias_constraint=None,
        )
        return config
