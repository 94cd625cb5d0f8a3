"""``Activation``: applies an activation function to its input."""

from __future__ import annotations

from hookfit import activations
from hookfit.layers.layer import node_kind, Layer, flat_width


class Activation(Layer):
    """``Activation("relu")`` or ``Activation(keras.activations.relu)``."""

    def __init__(self, activation, **kwargs):
        name = activations.canonical_name(activation)
        super().__init__(**kwargs)
        self.activation = name

    def _output_shape(self, shapes):
        return (None, flat_width(shapes[0], f"Activation layer {self.name!r}"))

    def _graph_node(self, inputs):
        return {"kind": node_kind("ACTIVATION"), "inputs": list(inputs),
                "activation": activations.code(self.activation)}

    def _eager(self, arrays, training):
        return activations.get(self.activation)(arrays[0])

    def get_config(self):
        config = super().get_config()
        config["activation"] = self.activation
        return config
