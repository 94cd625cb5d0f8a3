"""Merge layers: ``Add`` (elementwise sum) and ``Concatenate`` (feature axis)."""

from __future__ import annotations

import numpy as np

from hookfit.unsupported import unsupported
from hookfit.layers.layer import node_kind, Layer, flat_width


class _Merge(Layer):
    _takes_list = True

    def _widths(self, shapes):
        return [flat_width(s, f"{type(self).__name__} layer {self.name!r}") for s in shapes]


class Add(_Merge):
    """The sum of its inputs, which must have the same shape."""

    def _output_shape(self, shapes):
        widths = self._widths(shapes)
        if len(set(widths)) != 1:
            raise ValueError(
                "Inputs have incompatible shapes. An Add layer needs inputs of one shape; "
                f"got {[tuple(s) for s in shapes]}"
            )
        return (None, widths[0])

    def _graph_node(self, inputs):
        return {"kind": node_kind("ADD"), "inputs": list(inputs)}

    def _eager(self, arrays, training):
        return np.sum(arrays, axis=0, dtype=np.float32)


class Concatenate(_Merge):
    """Its inputs side by side along the feature axis (``axis=-1``)."""

    def __init__(self, axis=-1, **kwargs):
        if axis not in (-1, 1):
            raise unsupported(f"Concatenate(axis={axis!r})", "axes",
                              ["-1 (the feature axis, also spelt 1)"])
        super().__init__(**kwargs)
        self.axis = axis

    def _output_shape(self, shapes):
        return (None, sum(self._widths(shapes)))

    def _graph_node(self, inputs):
        return {"kind": node_kind("CONCATENATE"), "inputs": list(inputs)}

    def _eager(self, arrays, training):
        return np.concatenate(arrays, axis=1)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def add(inputs, **kwargs):
    """Functional form: ``add([a, b])`` = ``Add()([a, b])``."""
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form: ``concatenate([a, b])`` = ``Concatenate()([a, b])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
