"""Layers: ``Dense`` and ``InputLayer`` (with the ``Input`` helper)."""

from hookfit.layers.dense import Dense
from hookfit.layers.input_layer import Input, InputLayer
from hookfit.layers.layer import Layer

__all__ = ["Dense", "Input", "InputLayer", "Layer"]
