"""Layers for dense networks, as ``keras.layers``.

A Keras layer that hookfit does not have raises ``NotSupportedError`` ("hookfit
does not support ...") naming the ones it has.
"""

from hookfit.layers.activation import Activation
from hookfit.layers.activation_layers import ELU, LeakyReLU, ReLU, Softmax
from hookfit.layers.batch_normalization import BatchNormalization
from hookfit.layers.dense import Dense
from hookfit.layers.dropout import Dropout
from hookfit.layers.flatten import Flatten
from hookfit.layers.input_layer import Input, InputLayer
from hookfit.layers.layer import Layer
from hookfit.layers.merging import Add, Concatenate, add, concatenate
from hookfit.layers.normalization import Normalization
from hookfit.unsupported import unsupported

__all__ = [
    "Activation",
    "Add",
    "BatchNormalization",
    "Concatenate",
    "Dense",
    "Dropout",
    "ELU",
    "Flatten",
    "Input",
    "InputLayer",
    "Layer",
    "LeakyReLU",
    "Normalization",
    "ReLU",
    "Softmax",
    "add",
    "concatenate",
]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"the layer keras.layers.{name}", "layers", __all__)
