"""``KerasTensor``: a symbolic value in a functional graph.

``keras.Input(shape=(n,))`` makes one; calling a layer on KerasTensors
returns a new one that remembers the layer and its inputs. A model walks
these links backwards from its output to find its layers; no numbers flow
through a KerasTensor.
"""

from __future__ import annotations

import math


class KerasTensor:
    """The symbolic output of ``Input`` or of one layer call."""

    def __init__(self, shape, layer, inputs=()):
        self.shape = tuple(shape)  # (None, ...): the batch axis first
        self.dtype = "float32"
        self._layer = layer  # the layer whose call made this tensor
        self._inputs = tuple(inputs)  # that call's input tensors
        self._node_index = len(layer._inbound) if layer is not None else 0

    @property
    def name(self) -> str:
        return self._layer.name

    @property
    def width(self) -> int:
        """The feature count once flattened (the product of the non-batch axes)."""
        return math.prod(self.shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self):
        raise TypeError(
            "a symbolic KerasTensor has no value; it only describes a layer's output "
            "while building a model"
        )

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic (it holds no numbers): build a keras.Model(inputs, outputs) "
            "and call model.predict(x) to compute values"
        )


def is_symbolic(value) -> bool:
    return isinstance(value, KerasTensor)
