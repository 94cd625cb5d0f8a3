"""``Flatten``: each sample's axes joined into one feature axis."""

from __future__ import annotations

import math

from hookfit.layers.layer import Layer
from hookfit.unsupported import unsupported


class Flatten(Layer):
    """``(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)``.

    Models feed the core one flat row per sample, so a model's inputs are
    reshaped once in Python and Flatten adds no work inside the network.
    """

    def __init__(self, data_format=None, **kwargs):
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first'; got {data_format!r}")
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        if self.data_format == "channels_first":
            raise unsupported("Flatten(data_format='channels_first')", "data formats",
                              ["channels_last"])

    def _output_shape(self, shapes):
        return (None, math.prod(shapes[0][1:]))

    def _graph_node(self, inputs):
        return None  # the input is flat already: a model's x rows are flattened once

    def _eager(self, arrays, training):
        return arrays[0].reshape(arrays[0].shape[0], -1)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config
