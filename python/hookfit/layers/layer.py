"""``Layer``: the little that Dense and InputLayer share.

A layer's weights live in its model's compiled network (one flat float32
buffer); a layer only knows its model and its position in it, and reads or
writes its weights through views of that buffer.
"""

from __future__ import annotations

import re

from hookfit.utils import naming


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Layer:
    """Base of hookfit's layers."""

    def __init__(self, name=None, **kwargs):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string; got {type(name).__name__}")
        self.name = name or naming.unique_name(_snake(type(self).__name__))
        self._model = None  # the model that owns the weights, once added
        self._index = None  # position among the model's weighted layers
        self.trainable = bool(kwargs.pop("trainable", True))
        if not self.trainable:
            raise ValueError("trainable=False is not supported by hookfit; every layer trains")
        dtype = kwargs.pop("dtype", None)
        if dtype not in (None, "float32"):
            raise ValueError(f"hookfit computes in float32; dtype={dtype!r} is not supported")
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s) {sorted(kwargs)}")

    @property
    def built(self) -> bool:
        return self._model is not None and self._model.built

    def _attach(self, model, index):
        if self._model is not None and self._model is not model:
            raise ValueError(
                f"layer {self.name!r} already belongs to model {self._model.name!r}; "
                "create a new layer for each model (hookfit does not share layers)"
            )
        self._model, self._index = model, index

    def get_weights(self) -> list:
        return []

    def set_weights(self, weights) -> None:
        if len(weights):
            raise ValueError(f"layer {self.name!r} has no weights; got {len(weights)} arrays")

    def count_params(self) -> int:
        return sum(w.size for w in self.get_weights())

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
